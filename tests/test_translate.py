"""Translation training on the shared loop, the variants, distillation, and the pipeline, on tiny
folders and a tiny in-test corpus (the real pairs are `minidistil.data.parallel.pairs`)."""
import json

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from minidistil import DistilBertConfig, DistilBertForMaskedLM, WordPieceTokenizer
from minidistil.nn.checkpoint import CheckpointError
from minidistil.nn.generate import generate
from minidistil.nn.seq2seq import DistilBertEncoderDecoder, load_tokenizers
from minidistil.apps.translation import TranslationPipeline
from minidistil.data.batching import collate_pairs
from minidistil.recipes.translator import TranslatorSettings, train_translator
from minidistil.training.translate import DistilledTranslationTask, build_model, detokenize, TranslationTask, encode_sources, encode_targets, make_student, sequence_kd_targets, trim_vocabulary

pytestmark = pytest.mark.usefixtures("one_thread")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = {"打开": "open", "关闭": "close", "保存": "save", "删除": "delete", "文件": "the file",
         "窗口": "the window", "表格": "the table", "图片": "the picture"}
VERBS, NOUNS = list(WORDS)[:4], list(WORDS)[4:]
RECORDS = {"train": [{"zh": v + n, "en": f"{WORDS[v]} {WORDS[n]}.", "source": "ui/test"} for v in VERBS for n in NOUNS],
           "validation": [{"zh": "打开窗口", "en": "open the window.", "source": "ui/held"}]}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A 3-layer English BERT with an MLM head and a Chinese DistilBERT MLM, both tiny."""
    root = tmp_path_factory.mktemp("folders")
    en_vocab = SPECIALS + ["open", "close", "save", "delete", "the", "file", "window", "table", "picture", ".",
                           "print", "unused", "##s"]
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=len(en_vocab), hidden_size=12, num_attention_heads=3, intermediate_size=19,
                               num_hidden_layers=3, max_position_embeddings=40)).save_pretrained(root / "en")
    WordPieceTokenizer(vocab=en_vocab).save_pretrained(root / "en")
    zh_vocab = SPECIALS + sorted(set("".join(WORDS))) + ["a", "b"]
    DistilBertForMaskedLM(DistilBertConfig(vocab_size=len(zh_vocab), dim=12, n_heads=3, hidden_dim=17, n_layers=2,
                                           max_position_embeddings=40)).save_pretrained(root / "zh")
    WordPieceTokenizer(vocab=zh_vocab).save_pretrained(root / "zh")
    return root


def tiny(**kw):
    return TranslatorSettings(**{**dict(max_steps=4, minutes=0.0, batch_size=8, lr=3e-3, eval_sentences=0, num_beams=2,
                                        max_target_length=8, max_source_length=12, seq_kd_beams=2), **kw})


def run(settings, folders, out, **kw):
    return train_translator(settings, out, records=RECORDS, progress=False, encoder_folder=folders / "zh",
                            decoder_folder=folders / "en", **kw)


def test_trimmed_vocabulary_tokenizes_the_targets_alike_and_keeps_pad_at_zero(folders):
    full = WordPieceTokenizer.from_pretrained(folders / "en")
    texts = [r["en"] for r in RECORDS["train"]]
    trimmed, keep = trim_vocabulary(full, texts)
    assert keep[0] == 0 and trimmed.pad_token_id == 0 and "print" not in trimmed.vocab
    assert all(trimmed.tokenize(t) == full.tokenize(t) for t in texts)
    assert [keep[i] for i in trimmed(texts[0])["input_ids"]] == full(texts[0])["input_ids"]


def test_targets_are_labels_without_the_start_token_and_with_the_end(folders):
    tok = WordPieceTokenizer.from_pretrained(folders / "en")
    (labels,) = encode_targets(tok, ["open the file."], max_length=8)
    assert labels.tolist() == tok("open the file.")["input_ids"][1:]
    assert labels[-1] == tok.sep_token_id and tok.cls_token_id not in labels
    (cut,) = encode_targets(tok, ["open the file."], max_length=3)
    assert len(cut) == 3 and cut[-1] == tok.sep_token_id


def test_collate_pads_sources_with_pad_and_labels_with_minus_100():
    batch = collate_pairs([{"input_ids": np.array([2, 5, 3]), "labels": np.array([7, 3])},
                           {"input_ids": np.array([2, 3]), "labels": np.array([6, 8, 9, 3])}])
    assert batch["input_ids"].tolist() == [[2, 5, 3], [2, 3, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [[7, 3, -100, -100], [6, 8, 9, 3]]


@pytest.mark.parametrize("variant", ["random", "decoder-warm", "warm"])
def test_each_variant_trains_saves_and_translates(variant, folders, tmp_path):
    report = run(tiny(variant=variant, eval_sentences=1), folders, tmp_path / variant)
    assert report["max_steps"] == 4 and report["target_vocab"] == 15  # 5 specials + the 10 tokens used
    model = DistilBertEncoderDecoder.from_pretrained(tmp_path / variant / "model")
    assert model.config.decoder.num_hidden_layers == 3
    out = TranslationPipeline(tmp_path / variant / "model")(["打开文件", "保存表格"], num_beams=2, max_length=6)
    assert [sorted(o) for o in out] == [["translation_text"]] * 2 and all(isinstance(o["translation_text"], str) for o in out)
    assert report["last"]["step"] == 4 and ("bleu" in report or "scores" in report)


@pytest.mark.parametrize("variant,warm_encoder,warm_decoder", [("random", False, False), ("decoder-warm", False, True),
                                                              ("warm", True, True)])
def test_variants_start_from_the_right_weights(variant, warm_encoder, warm_decoder, folders):
    zh = DistilBertForMaskedLM.from_pretrained(folders / "zh").distilbert.state_dict()
    en = BertForMaskedLM.from_pretrained(folders / "en").state_dict()
    target, keep = trim_vocabulary(WordPieceTokenizer.from_pretrained(folders / "en"), [r["en"] for r in RECORDS["train"]])
    model = build_model(tiny(variant=variant), target, keep, encoder_folder=folders / "zh", decoder_folder=folders / "en")
    enc = model.encoder.transformer.layer[1].attention.q_lin.weight
    dec = model.decoder.bert.encoder.layer[2].attention.self.query.weight
    assert torch.equal(enc, zh["transformer.layer.1.attention.q_lin.weight"]) == warm_encoder
    assert torch.equal(dec, en["bert.encoder.layer.2.attention.self.query.weight"]) == warm_decoder
    assert model.config.decoder.vocab_size == len(keep) and model.config.decoder_start_token_id == target.cls_token_id


def test_smaller_decoder_keeps_the_named_layers(folders, tmp_path):
    run(tiny(variant="warm", decoder_layers="0,2", max_steps=1), folders, tmp_path / "small")
    assert DistilBertEncoderDecoder.from_pretrained(tmp_path / "small" / "model").config.decoder.num_hidden_layers == 2


def test_same_seed_gives_bitwise_the_same_weights_and_a_killed_run_resumes_exactly(folders, tmp_path, monkeypatch):
    settings = tiny(variant="warm", max_steps=6, save_every=2)
    run(settings, folders, tmp_path / "a")
    run(settings, folders, tmp_path / "b")
    a = DistilBertEncoderDecoder.from_pretrained(tmp_path / "a" / "model").state_dict()
    b = DistilBertEncoderDecoder.from_pretrained(tmp_path / "b" / "model").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    calls, forward = {"n": 0}, TranslationTask.forward

    def dies_at_step_5(self, batch):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return forward(self, batch)
    monkeypatch.setattr(TranslationTask, "forward", dies_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        run(settings, folders, tmp_path / "c")
    monkeypatch.setattr(TranslationTask, "forward", forward)
    run(settings, folders, tmp_path / "c")  # resumes from the checkpoint of step 4
    c = DistilBertEncoderDecoder.from_pretrained(tmp_path / "c" / "model").state_dict()
    assert all(torch.equal(a[k], c[k]) for k in a)


def test_word_level_kd_mixes_cross_entropy_and_kl(folders, tmp_path):
    run(tiny(variant="warm"), folders, tmp_path / "t")
    teacher = DistilBertEncoderDecoder.from_pretrained(tmp_path / "t" / "model")
    student = make_student(teacher, (0, 2)).eval()
    assert torch.equal(student.decoder.bert.encoder.layer[1].crossattention.self.key.weight,
                       teacher.decoder.bert.encoder.layer[2].crossattention.self.key.weight)
    src, tgt = load_tokenizers(tmp_path / "t" / "model")
    batch = collate_pairs([{"input_ids": s, "labels": t} for s, t in zip(
        encode_sources(src, ["打开文件", "删除图片"], 12), encode_targets(tgt, ["open the file.", "delete."], 8))])
    only_ce = DistilledTranslationTask(student, teacher, alpha=0.0, label_smoothing=0.1)(batch)
    assert torch.allclose(only_ce["loss"], TranslationTask(student, 0.1)(batch)["loss"])
    self_kd = DistilledTranslationTask(teacher, teacher, alpha=1.0)(batch)
    assert abs(float(self_kd["kd"])) < 1e-6  # a model distilled from itself has nothing to learn
    mixed = DistilledTranslationTask(student, teacher, alpha=0.3, temperature=2.0)(batch)
    assert torch.allclose(mixed["loss"], 0.7 * mixed["ce"] + 0.3 * mixed["kd"])


def test_sequence_level_kd_targets_are_the_teachers_beam_translations(folders, tmp_path):
    run(tiny(variant="warm"), folders, tmp_path / "t")
    teacher = DistilBertEncoderDecoder.from_pretrained(tmp_path / "t" / "model")
    src, tgt = load_tokenizers(tmp_path / "t" / "model")
    rows = encode_sources(src, ["打开文件", "删除图片", "保存"], 12)
    targets = sequence_kd_targets(teacher, rows, tgt, num_beams=2, max_length=6, cache=tmp_path / "kd.jsonl",
                                  progress=False)
    batch = collate_pairs([{"input_ids": r, "labels": [0]} for r in rows])
    beams = generate(teacher, batch["input_ids"], batch["attention_mask"], num_beams=2, max_length=6)
    for t, b in zip(targets, beams.tolist()):
        b = [x for x in b[1:] if x != tgt.pad_token_id]
        assert t.tolist()[:len(b)] == b and t[-1] == tgt.sep_token_id
    lines = (tmp_path / "kd.jsonl").read_text().splitlines()
    assert len(lines) == 3
    (tmp_path / "kd.jsonl").write_text(lines[0] + "\n")  # killed after one sentence: the rest is decoded on resume
    again = sequence_kd_targets(teacher, rows, tgt, num_beams=2, max_length=6, cache=tmp_path / "kd.jsonl",
                                progress=False, batch_size=1)
    assert [t.tolist() for t in again] == [t.tolist() for t in targets]


def test_student_variant_trains_from_its_teacher(folders, tmp_path):
    run(tiny(variant="warm"), folders, tmp_path / "t")
    report = train_translator(tiny(variant="student", decoder_layers="0,2", eval_sentences=1), tmp_path / "s",
                              records=RECORDS, progress=False, teacher_folder=tmp_path / "t" / "model")
    assert report["last"]["step"] == 4 and {"ce", "kd"} <= set(report["last"])
    assert DistilBertEncoderDecoder.from_pretrained(tmp_path / "s" / "model").config.decoder.num_hidden_layers == 2
    assert (tmp_path / "s" / "seq_kd.jsonl").is_file()


def test_pipeline_bad_inputs(folders, tmp_path, recwarn):
    run(tiny(variant="warm", max_steps=1), folders, tmp_path / "t")
    translate = TranslationPipeline(tmp_path / "t" / "model")
    assert translate("") == [{"translation_text": ""}]
    assert translate(["   ", "打开"])[0] == {"translation_text": ""}
    assert isinstance(translate("open 文件 ok")[0]["translation_text"], str)  # mixed text passes through
    # a long text is translated sentence by sentence, never cut: the same as its sentences one by one
    joined = translate("打开文件。保存表格！")[0]["translation_text"]
    assert joined == " ".join(t["translation_text"] for t in translate(["打开文件。", "保存表格！"]))
    long = "打开" * 300   # no sentence end at all: cut into pieces of the encoder's length, no warning
    recwarn.clear()
    assert translate(long)[0]["translation_text"] and not [w for w in recwarn if "cut" in str(w.message)]
    scored = translate(["打开文件", ""], return_scores=True)
    assert scored[0]["score"] < 0 and scored[1] == {"translation_text": "", "score": 0.0}
    for name in ("num_beams", "max_length"):
        with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
            translate("打开", **{name: -1})
    with pytest.raises(TypeError, match="a string or a list of strings"):
        translate(3)
    with pytest.raises(CheckpointError, match="is not a translator"):
        TranslationPipeline(folders / "zh")


def test_minutes_pick_the_steps_once_and_a_rerun_keeps_them(folders, tmp_path):
    report = run(tiny(variant="warm", minutes=0.02), folders, tmp_path / "m")
    plan = json.loads((tmp_path / "m" / "plan.json").read_text())
    assert report["max_steps"] == plan["max_steps"] >= 1 and plan["seconds_per_step"] > 0
    assert run(tiny(variant="warm", minutes=0.02), folders, tmp_path / "m")["max_steps"] == plan["max_steps"]


@pytest.mark.parametrize("text,source,expected", [
    ("cannot close basic while % s runs.", "%s 运行时无法关闭 BASIC。", "Cannot close BASIC while %s runs."),
    ("open the calc file", "打开 Calc 文件", "Open the Calc file"),
    ("", "", ""),
    ("% d files", "", "%d files"),
])
def test_detokenize_restores_specifiers_and_the_case_the_source_shows(text, source, expected):
    assert detokenize(text, source) == expected


def test_settings_are_checked_and_keyed():
    assert TranslatorSettings().key() == TranslatorSettings().key() != TranslatorSettings(variant="random").key()
    with pytest.raises(ValueError, match="variant must be one of"):
        TranslatorSettings(variant="bigger")
    with pytest.raises(ValueError, match="comma-separated"):
        TranslatorSettings(decoder_layers="first")


def test_translate_command_reads_arguments_and_stdin(folders, tmp_path, capsys, monkeypatch):
    import argparse
    import io

    from minidistil.cli import translation
    run(tiny(variant="warm", max_steps=1), folders, tmp_path / "t")
    parser = argparse.ArgumentParser()
    translation.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["translate", "--model", str(tmp_path / "t" / "model"), "--num-beams", "2", "打开", "保存"])
    args.func(args)
    assert len(capsys.readouterr().out.splitlines()) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("打开文件\n关闭\n删除\n"))
    args = parser.parse_args(["translate", "--model", str(tmp_path / "t" / "model")])
    args.func(args)
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_a_translation_scoring_below_the_fallback_is_the_dictionarys_and_says_so(folders, tmp_path, capsys):
    import argparse

    from minidistil.cli import translation
    from minidistil.data import cedict
    run(tiny(variant="warm", max_steps=1), folders, tmp_path / "t")
    translate = TranslationPipeline(tmp_path / "t" / "model")
    plain = translate(["打开文件", "删除表格"], return_scores=True)
    assert all(p["score"] < 0 for p in plain)  # an untrained model is never sure
    # CC-CEDICT's own first glosses, greedy longest match: 打开 "to open", 文件 "document", 删除 "to delete", 表格 "form"
    assert cedict.WordByWord(cedict.load())("打开文件") == "open document"
    fell = translate(["打开文件", "删除表格", ""], fallback_below=0.0, return_scores=True)
    assert [f["translation_text"] for f in fell[:2]] == ["open document", "delete form"]
    assert [f.get("fallback") for f in fell] == ["dictionary", "dictionary", None]  # "" scores 0: nothing to replace
    assert [f["score"] for f in fell[:2]] == [p["score"] for p in plain]  # the model's score stays, to be read
    kept = translate(["打开文件", "删除表格"], fallback_below=-1e9)
    assert kept == [{"translation_text": p["translation_text"]} for p in plain]
    with pytest.raises(TypeError, match="fallback_below must be a number"):
        translate("打开", fallback_below="low")
    parser = argparse.ArgumentParser()
    translation.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["translate", "--model", str(tmp_path / "t" / "model"), "--scores", "--fallback-below", "0",
                              "打开文件"])
    args.func(args)
    assert capsys.readouterr().out.rstrip("\n").endswith("[dictionary]\topen document")


def test_the_dropout_lever_reaches_every_dropout_and_leaves_the_default_key_alone(folders, tmp_path):
    import hashlib
    from dataclasses import asdict
    from minidistil.training.translate import set_dropout
    fields = asdict(TranslatorSettings())
    del fields["dropout"]  # the key of the builds cached before the field existed
    text = json.dumps({**fields, "encoder": TranslatorSettings().encoder.key()}, sort_keys=True)
    assert TranslatorSettings().key() == hashlib.sha256(text.encode()).hexdigest()[:8]
    assert TranslatorSettings(dropout=0.3).key() != TranslatorSettings().key()
    with pytest.raises(ValueError, match="dropout must be in"):
        TranslatorSettings(dropout=1.0)
    target, keep = trim_vocabulary(WordPieceTokenizer.from_pretrained(folders / "en"), [r["en"] for r in RECORDS["train"]])
    model = build_model(tiny(), target, keep, encoder_folder=folders / "zh", decoder_folder=folders / "en").train()
    src = torch.tensor([[2, 5, 6, 3]])
    batch = dict(input_ids=src, attention_mask=torch.ones_like(src), decoder_input_ids=torch.tensor([[2, 5, 6]]))
    set_dropout(model, 0.0)  # no dropout anywhere: training mode is deterministic
    assert torch.equal(model(**batch).logits, model(**batch).logits)
    set_dropout(model, 0.5)
    assert all(m.p == 0.5 for m in model.modules() if isinstance(m, torch.nn.Dropout))
    assert not torch.equal(model(**batch).logits, model(**batch).logits)
    report = run(tiny(dropout=0.25, max_steps=1), folders, tmp_path / "dropout")
    saved = DistilBertEncoderDecoder.from_pretrained(tmp_path / "dropout" / "model").config
    assert saved.encoder.attention_dropout == saved.decoder.hidden_dropout_prob == 0.25
    assert report["settings"]["dropout"] == 0.25


# ------------------------------------------------------------------ back-translation

def test_back_translation_trains_the_reverse_model_and_writes_resumable_synthetic_pairs(folders, tmp_path, monkeypatch):
    from minidistil.recipes import back_translation as bt
    assert bt.reversed_records(RECORDS)["validation"] == [{"zh": "open the window.", "en": "打开窗口", "source": "ui/held"}]
    folder = bt.train_reverse(tiny(), tmp_path / "reverse", {"encoder_folder": folders / "zh", "decoder_folder": folders / "en"},
                              RECORDS, progress=False)
    source_tok, target_tok = load_tokenizers(folder / "model")
    assert "open" in source_tok.vocab and "窗" in target_tok.vocab  # English in, Chinese out
    english = [{"en": "open the file.", "source": "back-translation/bbc"}, {"en": "close the table.", "source": "x"}]
    pairs = bt.synthetic_pairs(folder / "model", english, tmp_path / "synthetic.jsonl", max_length=6, progress=False)
    assert [p["en"] for p in pairs] == [e["en"] for e in english if any(p["en"] == e["en"] for p in pairs)]
    assert all(p["kind"] == "synthetic" and " " not in p["zh"] and set(p["zh"]) <= set("".join(WORDS)) for p in pairs)
    assert len((tmp_path / "synthetic.jsonl").read_text(encoding="utf-8").splitlines()) == 2
    # a second call reads the cache and loads no model
    monkeypatch.setattr(bt.DistilBertEncoderDecoder, "from_pretrained", lambda *a, **k: pytest.fail("model loaded"))
    assert bt.synthetic_pairs(folder / "model", english, tmp_path / "synthetic.jsonl", progress=False) == pairs


def test_english_sentences_are_filtered_unique_shared_out_and_drawn_by_the_seed():
    from minidistil.recipes.back_translation import english_sentences, join_chinese
    texts = {"bbc": ["Shares rose sharply on Monday. Too short. Prices fell again in London today.\nCafé owners were not amused by this."],
             "austen": ["It is a truth universally acknowledged. It is a truth universally acknowledged. She smiled at him warmly."],
             "wordnet": ["he ran to the store to buy milk", "the open the file now"]}
    all_ = english_sentences(100, texts=texts, exclude=["The open the file now"])
    got = [s["en"] for s in all_]
    assert "Too short." not in got and not any("Café" in s for s in got)  # under 4 words; not ASCII
    assert got.count("It is a truth universally acknowledged.") == 1 and "the open the file now" not in got
    assert len(got) == 5 and {s["source"] for s in all_} == {"back-translation/bbc", "back-translation/austen",
                                                             "back-translation/wordnet"}
    three = english_sentences(3, texts=texts, seed=1)
    assert sorted(s["source"] for s in three) == ["back-translation/austen", "back-translation/bbc", "back-translation/wordnet"]
    assert three == english_sentences(3, texts=texts, seed=1)
    assert {s["en"] for s in english_sentences(4, texts=texts, seed=2, exclude=["The open the file now"])} <= set(got)
    assert join_chinese("我 喜 欢 cats and dogs 。 好") == "我喜欢 cats and dogs。好"
    with pytest.raises(ValueError, match="limit"):
        english_sentences(-1, texts=texts)


def test_a_run_continues_from_a_snapshot_of_another_with_its_weights_and_vocabulary(folders, tmp_path):
    from minidistil.recipes.translator import continue_from
    from minidistil.training.train import keep_snapshot
    run(tiny(max_steps=4, keep_every=2, save_every=2), folders, tmp_path / "first")
    snapshot = tmp_path / "first" / "snapshots" / "step-2.pt"
    state = torch.load(snapshot, weights_only=True)
    model = continue_from(snapshot)
    assert all(torch.equal(v, state["model." + k]) for k, v in model.state_dict().items())
    final = DistilBertEncoderDecoder.from_pretrained(tmp_path / "first" / "model")
    assert not all(torch.equal(v, final.state_dict()[k]) for k, v in model.state_dict().items())  # step 2, not 4
    smaller = continue_from(snapshot, (1,))
    assert smaller.config.decoder.num_hidden_layers == 1
    layer = "decoder.bert.encoder.layer.{}.attention.self.query.weight"
    assert torch.equal(smaller.state_dict()[layer.format(0)], state["model." + layer.format(1)])
    report = run(tiny(max_steps=2), folders, tmp_path / "second", start_from=snapshot)
    assert report["target_vocab"] == final.config.decoder.vocab_size
    assert load_tokenizers(tmp_path / "second" / "model")[1].vocab == load_tokenizers(tmp_path / "first" / "model")[1].vocab
    with pytest.raises(FileNotFoundError, match="not a snapshot"):
        continue_from(tmp_path / "first" / "snapshots" / "step-3.pt")
    keep_snapshot(smaller, tmp_path / "first" / "snapshots" / "step-9.pt")  # another model's weights
    with pytest.raises(ValueError, match="does not fit"):
        continue_from(tmp_path / "first" / "snapshots" / "step-9.pt")
