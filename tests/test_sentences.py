"""One sentence splitter (minidistil.data.sentences) for its three callers: the cloze test and the
punctuation task keep, through a named rule, the sentences their seeded results were drawn from."""
import re

import pytest

from minidistil.training import cloze
from minidistil.data import features, tasks
from minidistil.data import sources
from minidistil.data.sentences import SENTENCE_STARTS, sentences

# The three rules as they were written before there was one splitter: the reference.
OLD_CLOZE = re.compile(r"(?<=[.!?])\s+(?=[\"'“A-Z])")
OLD_SUMMARIZATION = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])")
OLD_PASSAGES = re.compile(r"(?<=[.!?])\s+(?=[\"'A-Z0-9])")


def old_cloze(document):
    return [s.strip() for block in document.split("\n") for s in OLD_CLOZE.split(block) if s.strip()]


def old_summarization(text):
    return [s.strip() for line in text.splitlines() for s in OLD_SUMMARIZATION.split(line) if s.strip()]


def old_passage_sentences(paragraph):
    return [s for s in OLD_PASSAGES.split(paragraph.strip()) if s]


@pytest.fixture(scope="module")
def real_text():
    """Hamlet, Jane Austen's novels and Rotten Tomatoes snippets (registry text, cached)."""
    return [sources.hamlet(), *sources.corpus(("austen",)), *sources.rotten_tomatoes()[0]]


def test_a_sentence_ends_at_a_mark_before_what_may_open_the_next_and_never_spans_lines():
    assert sentences('It rained. "Why?" she asked.\nThe end') == ["It rained.", '"Why?" she asked.', "The end"]
    assert sentences("Born in 1990. 45 years on. (Quiet) she said. “Yes.”") == [
        "Born in 1990.", "45 years on.", "(Quiet) she said.", "“Yes.”"]
    assert sentences("e.g. this one") == ["e.g. this one"]  # a lower-case word opens no sentence
    assert sentences("One\rtwo") == ["One", "two"] and sentences("One\rtwo", newline_only=True) == ["One\rtwo"]
    assert sentences("Born in 1990. 45 years on", starts="A-Z") == ["Born in 1990. 45 years on"]
    assert '"' in SENTENCE_STARTS and "“" in SENTENCE_STARTS


def test_each_caller_gets_the_sentences_of_its_old_rule_on_real_text(real_text):
    for text in real_text:
        assert cloze.sentences(text) == old_cloze(text)
        for paragraph in text.split("\n"):
            assert sentences(paragraph, tasks.PASSAGE_STARTS, newline_only=True) == old_passage_sentences(paragraph)
        # Summarization also splits before a curly quote now, which its old rule forgot.
        if "“" not in text:
            assert features.sentences(text) == old_summarization(text)


def test_the_summarization_rule_now_splits_before_a_curly_quote():
    text = "He spoke. “Go now,” she said."
    assert old_summarization(text) == [text]
    assert features.sentences(text) == ["He spoke.", "“Go now,” she said."]


def test_chinese_text_is_cut_after_sentence_ends_keeping_closing_quotes():
    from minidistil.data.sentences import chinese_sentences
    assert chinese_sentences("今天天气很好。我们去公园吧！“好的。”他说") == ["今天天气很好。", "我们去公园吧！", "“好的。”", "他说"]
    assert chinese_sentences("第一句；第二句？\n第三行") == ["第一句；", "第二句？", "第三行"]
    assert chinese_sentences("") == [] and chinese_sentences("没有标点") == ["没有标点"]
    text = "这是一个很长的句子，有很多的逗号，还有更多的内容，一直没有句号"
    pieces = chinese_sentences(text, most=10)
    assert "".join(pieces) == text and all(len(p) <= 10 for p in pieces)  # nothing lost, nothing too long
    assert pieces[0] == "这是一个很长的句子，"                                  # cut after a comma, not mid-word
