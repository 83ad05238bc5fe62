"""The fill-in-the-blank test: real sentences, one content word masked, scored against frequency."""
import pytest

from minidistil.training import cloze

DOCS = ["The old sailor told stories about the northern ocean every winter evening. Short one.",
        "She planted tomatoes beside the garden wall before the spring rain arrived. It rained."]
VOCAB = {"sailor", "stories", "ocean", "winter", "evening", "planted", "tomatoes", "garden", "spring", "rain",
         "wall", "arrived", "the", "told", "about", "every"}


def test_items_mask_one_content_word_of_a_sentence():
    items = cloze.make_items(DOCS, VOCAB, n=2, seed=0)
    for item in items:
        assert item["text"].count("[MASK]") == 1
        assert item["answer"] in VOCAB and item["answer"] not in cloze.FUNCTION_WORDS and len(item["answer"]) >= 4
        sentence = item["text"].replace("[MASK]", item["answer"])
        assert any(sentence in doc for doc in DOCS)
    with pytest.raises(ValueError, match="only 2 cloze items"):
        cloze.make_items(DOCS, VOCAB, n=3)  # the short sentences are too short to be items


def test_the_baseline_and_the_score_by_hand():
    items = [{"text": "x [MASK]", "answer": a} for a in ["rain"] * 3 + ["wall", "ocean", "garden", "winter",
                                                           "spring", "sailor", "stories"]]
    # the 5 most frequent answers cover rain x3 and 4 of the 7 others: 7 of 10
    assert cloze.baseline(items, 5) == pytest.approx(0.7)
    assert cloze.baseline(items, 1) == pytest.approx(0.3)

    def fill_mask(texts, top_k):
        return [[{"token_str": w} for w in ["rain", "snow", "wall", "sun", "sea"]] for _ in texts]
    scores = cloze.score(fill_mask, items)
    assert scores["top1"] == pytest.approx(0.3) and scores["top5"] == pytest.approx(0.4)


def test_answer_words_are_what_an_item_may_ask_for():
    words = cloze.answer_words(VOCAB | {"##ing", "Rain", "abc", "whom", "rain2"})
    # not "the" (3 letters), "about", "every", "whom" (function words), "##ing", "Rain", "rain2"
    assert words == sorted(VOCAB - {"the", "about", "every"})


def test_candidates_reach_the_pipeline_as_its_targets():
    items = [{"text": "x [MASK]", "answer": "rain"}, {"text": "y [MASK]", "answer": "wall"}]
    seen = []

    def fill_mask(texts, top_k, targets=None):
        seen.append(targets)
        return [[{"token_str": w} for w in (targets or ["the"])[:top_k]] for _ in texts]
    assert cloze.score(fill_mask, items)["top5"] == 0 and seen[-1] is None
    scores = cloze.score(fill_mask, items, candidates=["rain", "wall"])
    assert seen[-1] == ["rain", "wall"] and scores["top5"] == 1 and scores["top1"] == 0.5
