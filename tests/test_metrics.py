"""Every metric against numbers worked out by hand (the working is in the comments)."""
import math

import pytest

from minidistil.utils import metrics

# Ten predictions over three labels. Confusion (rows gold, columns predicted, order a b c):
#   a: 3 1 0    b: 1 2 1    c: 0 0 2
GOLD = ["a", "a", "a", "a", "b", "b", "b", "b", "c", "c"]
PRED = ["a", "a", "a", "b", "a", "b", "b", "c", "c", "c"]


def test_accuracy_counts_matches():
    assert metrics.accuracy(PRED, GOLD) == 7 / 10


def test_precision_recall_f1_per_label():
    scores = metrics.precision_recall_f1(PRED, GOLD)
    # a: tp 3, predicted 4, gold 4 -> P 3/4, R 3/4, F1 3/4
    assert scores["a"]["precision"] == pytest.approx(0.75) and scores["a"]["recall"] == pytest.approx(0.75)
    # b: tp 2, predicted 3, gold 4 -> P 2/3, R 1/2, F1 = 2 (2/3)(1/2) / (7/6) = 4/7
    assert scores["b"]["precision"] == pytest.approx(2 / 3)
    assert scores["b"]["recall"] == pytest.approx(0.5)
    assert scores["b"]["f1"] == pytest.approx(4 / 7)
    # c: tp 2, predicted 3, gold 2 -> P 2/3, R 1, F1 = 0.8
    assert scores["c"]["f1"] == pytest.approx(0.8)
    assert scores["c"]["support"] == 2


def test_macro_f1_is_the_unweighted_mean():
    assert metrics.macro_f1(PRED, GOLD) == pytest.approx((0.75 + 4 / 7 + 0.8) / 3)


def test_a_label_never_predicted_has_precision_zero_not_nan():
    scores = metrics.precision_recall_f1(["x", "x"], ["x", "y"])
    assert scores["y"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_mcc_binary_matches_the_phi_coefficient():
    # tp 3 fn 1 fp 1 tn 3: (3*3 - 1*1) / sqrt(4*4*4*4) = 8 / 16
    gold = [1, 1, 1, 1, 0, 0, 0, 0]
    pred = [1, 1, 1, 0, 1, 0, 0, 0]
    assert metrics.mcc(pred, gold) == pytest.approx(0.5)


def test_mcc_multiclass_by_hand():
    # c = 7, s = 10, predicted counts a 4 b 3 c 3, gold counts a 4 b 4 c 2
    # (7*10 - (16 + 12 + 6)) / sqrt((100 - (16 + 9 + 9)) * (100 - (16 + 16 + 4))) = 36 / sqrt(66 * 64)
    assert metrics.mcc(PRED, GOLD) == pytest.approx(36 / math.sqrt(66 * 64))


def test_mcc_is_zero_when_every_prediction_is_the_same():
    assert metrics.mcc(["a"] * 4, ["a", "b", "a", "b"]) == 0.0


def test_mismatched_lengths_and_empty_inputs_raise():
    with pytest.raises(ValueError, match="one prediction per example"):
        metrics.accuracy(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="empty"):
        metrics.accuracy([], [])


@pytest.mark.parametrize("text, normalised", [
    ("The Eiffel Tower!", "eiffel tower"),
    ("  an   apple, a pear ", "apple pear"),
    ("Theatre", "theatre"),  # "the" inside a word stays
])
def test_squad_normalisation(text, normalised):
    assert metrics.normalize_answer(text) == normalised


def test_span_exact_match_and_f1():
    assert metrics.squad_exact_match("the Eiffel Tower.", "Eiffel tower") == 1.0
    # prediction "eiffel tower" vs gold "eiffel tower in paris": 2 shared, P 2/2, R 2/4 -> F1 2/3
    assert metrics.squad_f1("Eiffel Tower", "the Eiffel Tower in Paris") == pytest.approx(2 / 3)
    assert metrics.squad_f1("London", "Paris") == 0.0


def test_no_answer_scores_one_only_against_no_answer():
    assert metrics.squad_f1("", "") == 1.0
    assert metrics.squad_f1("Paris", "") == 0.0
    scores = metrics.squad_scores(["Paris", "", "big red dog"], [["Paris", "paris, France"], [], ["red dog"]])
    # question 3: P 2/3, R 1 -> F1 0.8; EM 0
    assert scores["exact_match"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx((1 + 1 + 0.8) / 3)


def test_entities_iob2_and_iob1_starts():
    assert metrics.entities(["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-LOC"]) == [("PER", 0, 2), ("LOC", 3, 6)]
    # IOB1: an I- after O, or after another type, starts an entity; B- splits adjacent ones.
    assert metrics.entities(["I-PER", "I-LOC", "B-LOC", "O"]) == [("PER", 0, 1), ("LOC", 1, 2), ("LOC", 2, 3)]


def test_entity_f1_needs_both_ends_and_the_type():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "O", "O", "B-LOC"], ["B-LOC", "O"]]
    report = metrics.entity_f1(pred, gold)
    # gold: PER(0,2) LOC(3,4) ORG(0,1); pred: PER(0,1) LOC(3,4) LOC(0,1). One true positive.
    assert report["overall"]["precision"] == pytest.approx(1 / 3)
    assert report["overall"]["recall"] == pytest.approx(1 / 3)
    assert report["LOC"]["precision"] == pytest.approx(0.5) and report["LOC"]["recall"] == 1.0
    assert report["ORG"]["f1"] == 0.0 and report["PER"]["f1"] == 0.0


def test_token_f1_leaves_o_out_of_the_average():
    gold = [["O", "COMMA", "O", "PERIOD"], ["QUESTION"]]
    pred = [["COMMA", "COMMA", "O", "PERIOD"], ["PERIOD"]]
    report = metrics.token_f1(pred, gold)
    # non-O: predicted 4 (COMMA COMMA PERIOD PERIOD), gold 3, correct 2 -> P 1/2, R 2/3, F1 4/7
    assert report["overall"]["f1"] == pytest.approx(4 / 7)
    assert report["COMMA"]["precision"] == 0.5 and report["QUESTION"]["recall"] == 0.0
    assert "O" not in report


def test_bootstrap_interval_matches_the_normal_approximation_of_a_proportion():
    # 800 of 1,000 right: the binomial standard error is sqrt(0.8 * 0.2 / 1000) = 0.01265,
    # so the 95% interval is about 0.8 +- 1.96 * 0.01265 = [0.775, 0.825].
    correct = [1] * 800 + [0] * 200
    low, high = metrics.bootstrap_interval(correct, rounds=2000, seed=1)
    assert low < 0.8 < high
    assert abs(low - 0.775) < 0.006 and abs(high - 0.825) < 0.006


def test_paired_bootstrap_sees_a_consistent_gain_that_the_unpaired_intervals_hide():
    # b is right wherever a is, and on 30 more of 1,000 examples: +3 points, always positive.
    a = [1] * 700 + [0] * 300
    b = [1] * 730 + [0] * 270
    paired = metrics.paired_bootstrap(a, b, rounds=1000, seed=0)
    assert paired["difference"] == pytest.approx(0.03) and paired["exceeds"] and paired["low"] > 0.015
    low_b, _ = metrics.bootstrap_interval(b, seed=0)
    _, high_a = metrics.bootstrap_interval(a, seed=0)
    assert low_b < high_a  # the two unpaired intervals overlap
    same = metrics.paired_bootstrap(a, a)
    assert same == {"difference": 0.0, "low": 0.0, "high": 0.0, "exceeds": False}
    with pytest.raises(ValueError, match="empty"):
        metrics.bootstrap_interval([])


def test_a_macro_difference_averages_tasks_and_its_interval_covers_it():
    # task 1: b gains 10 of 100; task 2: no change on 50 examples -> macro difference (0.10 + 0) / 2 = 0.05
    one = ([0] * 100, [1] * 10 + [0] * 90)
    two = ([1] * 25 + [0] * 25, [1] * 25 + [0] * 25)
    result = metrics.macro_paired_bootstrap([one, two], rounds=500, seed=0)
    assert result["difference"] == pytest.approx(0.05)
    assert result["low"] < 0.05 < result["high"] and result["exceeds"]
    # with one task it is the plain paired bootstrap
    assert metrics.macro_paired_bootstrap([one], seed=0)["difference"] == metrics.paired_bootstrap(*one)["difference"]
