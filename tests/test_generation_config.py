"""generation_config.json: written beside the model, read by from_pretrained (ours and transformers'),
overridden by keyword; the translator ships one and `translate` / the pipeline decode with it. The
cross-attention picture from the pipeline and the command line."""
import json

import pytest
import torch
from transformers import GenerationConfig as HFGenerationConfig

from minidistil.apps.cross_attention import translation_attention
from minidistil.nn.generate import generate
from minidistil.nn.generation_config import GenerationConfig
from minidistil.utils.plots import attention_figure
from minidistil.nn.seq2seq import DistilBertEncoderDecoder
from minidistil.apps.translation import TranslationPipeline
from minidistil.training.translate import translate_texts
from seq2seq_refs import EOS, START, generating_pair, padded_source
from test_translate import folders, run, tiny  # noqa: F401 (folders is a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_file_round_trips_and_transformers_reads_it_and_we_read_transformers(tmp_path):
    ours = GenerationConfig(num_beams=3, length_penalty=0.6, max_length=17, no_repeat_ngram_size=2,
                            decoder_start_token_id=START, eos_token_id=EOS, pad_token_id=0)
    ours.save_pretrained(tmp_path / "a")
    assert GenerationConfig.from_pretrained(tmp_path / "a") == ours
    theirs = HFGenerationConfig.from_pretrained(tmp_path / "a")
    assert (theirs.num_beams, theirs.length_penalty, theirs.max_length, theirs.no_repeat_ngram_size,
            theirs.eos_token_id) == (3, 0.6, 17, 2, EOS)
    HFGenerationConfig(num_beams=5, top_k=7, do_sample=True, forced_eos_token_id=EOS).save_pretrained(tmp_path / "b")
    back = GenerationConfig.from_pretrained(tmp_path / "b")  # its transformers_version key is skipped
    assert (back.num_beams, back.top_k, back.do_sample, back.forced_eos_token_id) == (5, 7, True, EOS)
    assert GenerationConfig.from_pretrained(tmp_path / "none") is None


def test_from_pretrained_reads_it_and_a_keyword_overrides_it(tmp_path):
    model, _ = generating_pair(7, 2.0)
    model.generation_config = model.generation_config.update(num_beams=3, max_length=9, length_penalty=2.0)
    model.save_pretrained(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "generation_config.json").read_text())
    assert saved["num_beams"] == 3 and saved["eos_token_id"] == EOS
    back = DistilBertEncoderDecoder.from_pretrained(tmp_path / "m")
    assert back.generation_config == model.generation_config
    ids, mask = padded_source(7)
    explicit = generate(back, ids, mask, num_beams=3, max_length=9, length_penalty=2.0)
    assert torch.equal(generate(back, ids, mask), explicit)
    greedy = generate(back, ids, mask, num_beams=1)
    assert torch.equal(greedy, generate(back, ids, mask, generation_config=GenerationConfig(max_length=9)))
    assert not torch.equal(greedy[:, :explicit.shape[1]], explicit)


def test_bad_settings_say_what_is_expected_in_one_sentence():
    model, _ = generating_pair(7, 2.0)
    ids, mask = padded_source(7)
    cases = [({"num_beam": 2}, TypeError, "unknown setting"), ({"top_p": 0.0}, ValueError, "top_p"),
             ({"num_return_sequences": 2}, ValueError, "do_sample"),
             ({"num_beams": 2, "num_return_sequences": 3}, ValueError, "at most num_beams"),
             ({"early_stopping": "sometimes"}, ValueError, "early_stopping"),
             ({"bad_words_ids": [3]}, ValueError, "list of token id lists")]
    for settings, error, words in cases:
        with pytest.raises(error, match=words) as e:
            generate(model, ids, mask, **settings)
        assert "\n" not in str(e.value)


def test_the_translator_ships_its_generation_config_and_the_pipeline_decodes_with_it(folders, tmp_path):
    settings = tiny(variant="warm", max_steps=2, num_beams=3, max_target_length=6)
    run(settings, folders, tmp_path / "t")
    folder = tmp_path / "t" / "model"
    saved = GenerationConfig.from_pretrained(folder)
    assert (saved.num_beams, saved.max_length) == (3, 7)
    pipe = TranslationPipeline(folder)
    texts = ["打开文件", "保存表格", "关闭"]
    explicit = translate_texts(pipe.model, pipe.source_tokenizer, pipe.target_tokenizer, texts, num_beams=3, max_length=7)
    assert [o["translation_text"] for o in pipe(texts)] == explicit
    assert isinstance(pipe(texts, num_beams=1, length_penalty=0.5)[0]["translation_text"], str)


def test_cross_attention_picture_has_a_column_per_source_character_and_a_row_per_word(folders, tmp_path):
    run(tiny(variant="warm", max_steps=1), folders, tmp_path / "t")
    pipe = TranslationPipeline(tmp_path / "t" / "model")
    source, words, table = translation_attention(pipe.model, pipe.source_tokenizer, pipe.target_tokenizer,
                                                 "打开文件", num_beams=1, max_length=6)
    assert source == list("打开文件") and table.shape == (len(words), 4) and len(words) >= 1
    assert torch.all(table >= 0) and torch.all(table.sum(dim=1) <= 1 + 1e-5)
    fig = attention_figure(table, columns=source, rows=words)
    ax = fig.axes[0]
    assert len(ax.get_xticklabels()) == 4 and len(ax.get_yticklabels()) == len(words)
    png = tmp_path / "pipe.png"
    pipe("打开文件", attention_png=png, num_beams=1, max_length=6)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_translate_command_draws_the_attention_png(folders, tmp_path, capsys):
    import argparse

    from minidistil.cli import translation
    run(tiny(variant="warm", max_steps=1), folders, tmp_path / "t")
    parser = argparse.ArgumentParser()
    translation.add_commands(parser.add_subparsers(dest="command"))
    png = tmp_path / "att.png"
    args = parser.parse_args(["translate", "--model", str(tmp_path / "t" / "model"), "--attention-png", str(png),
                              "--length-penalty", "0.8", "打开文件"])
    args.func(args)
    assert len(capsys.readouterr().out.splitlines()) == 1 and png.is_file()
