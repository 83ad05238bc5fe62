"""Translation scores with sacrebleu: BLEU (13a tokenizer) and chrF2, their signatures, and
bootstrap intervals (paired, Koehn 2004, when systems are compared on the same sentences).

sacrebleu is an optional extra (`pip install 'minidistil[translate]'`), imported only when a score
is asked for. Its `flores` and `spm` tokenizers download models at run time, so only `13a` is used.

    >>> scores = corpus_scores(hypotheses, references)
    >>> scores.bleu, scores.bleu_ci, scores.bleu_signature
    (10.8, 0.9, 'nrefs:1|bs:1000|seed:12345|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0')
    >>> compare(references, {"dictionary": dict_hyps, "translator": model_hyps})["translator"].bleu_p
    0.001
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    bleu: float
    bleu_ci: float            # half-width of the 95% bootstrap interval: bleu ± bleu_ci
    chrf: float
    chrf_ci: float
    bleu_signature: str
    chrf_signature: str
    bleu_p: float | None = None   # paired bootstrap p-value against the baseline (compare only)
    chrf_p: float | None = None

    def __str__(self) -> str:
        return (f"BLEU {self.bleu:.2f} ± {self.bleu_ci:.2f}  chrF2 {self.chrf:.2f} ± {self.chrf_ci:.2f}")


def _metrics():
    try:
        from sacrebleu.metrics import BLEU, CHRF
    except ImportError:
        raise ImportError("scoring translations needs sacrebleu; install it with "
                          "`pip install 'minidistil[translate]'` (or `pip install sacrebleu==2.6.0`)") from None
    return BLEU(tokenize="13a"), CHRF()


def _check(hypotheses, references) -> None:
    if len(hypotheses) != len(references) or not references:
        raise ValueError(f"need one hypothesis per reference and at least one of each, got "
                         f"{len(hypotheses)} hypotheses for {len(references)} references")


def corpus_scores(hypotheses: list[str], references: list[str], n_bootstrap: int = 1000) -> Scores:
    """Corpus BLEU and chrF2 of one system, with bootstrap intervals over the sentences."""
    _check(hypotheses, references)
    bleu, chrf = _metrics()
    b = bleu.corpus_score(hypotheses, [references], n_bootstrap=n_bootstrap)
    c = chrf.corpus_score(hypotheses, [references], n_bootstrap=n_bootstrap)
    # sacrebleu keeps the interval's half-width on the score object once it bootstrapped.
    return Scores(float(b.score), float(getattr(b, "_ci", 0.0)), float(c.score), float(getattr(c, "_ci", 0.0)),
                  str(bleu.get_signature()), str(chrf.get_signature()))


def compare(references: list[str], systems: dict[str, list[str]], n_bootstrap: int = 1000) -> dict[str, Scores]:
    """Every system against the first one (the baseline) by paired bootstrap resampling: the same
    resampled sentences score all systems, so the intervals and p-values are paired."""
    if len(systems) < 2:
        raise ValueError(f"compare needs a baseline and at least one system, got {list(systems)}")
    for hypotheses in systems.values():
        _check(hypotheses, references)
    from sacrebleu.significance import PairedTest
    bleu, chrf = _metrics()
    signatures, results = PairedTest(list(systems.items()), {"BLEU": bleu, "chrF2": chrf}, [references],
                                     test_type="bs", n_samples=n_bootstrap)()
    number = lambda x: None if x is None else float(x)  # noqa: E731  (sacrebleu gives numpy floats: not JSON)
    return {name: Scores(float(b.score), number(b.ci), float(c.score), number(c.ci), str(signatures["BLEU"]),
                         str(signatures["chrF2"]), number(b.p_value), number(c.p_value))
            for name, b, c in zip(results["System"], results["BLEU"], results["chrF2"])}
