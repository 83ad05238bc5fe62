"""The adapted teacher: held-out documents kept apart, the report measured fairly, the cache reused."""
import importlib
import warnings
import json
import math

import numpy as np
import pytest
import torch

from minidistil.data import sources, tasks
from minidistil.recipes import teacher
from minidistil.data import TokenCorpus

TINY = teacher.TeacherSettings(corpora="hamlet,headlines,tweets", max_length=32, max_steps=4, batch_size=4,
                               heldout_chunks=24, lr=1e-4)


def test_every_twentieth_document_is_held_out_and_no_evaluation_text_is_read():
    train_docs, heldout_docs = teacher.documents(TINY)
    assert not set(train_docs) & set(heldout_docs)
    headlines = list(dict.fromkeys(sources.guardian_headlines()))  # each kept once
    assert sum(h in set(heldout_docs) for h in headlines) == len(headlines) // 20
    evaluation = tasks.load("tweets")
    unseen = {e["text"] for e in evaluation.validation + evaluation.test}
    assert not unseen & (set(train_docs) | set(heldout_docs))


def test_settings_name_their_folder():
    assert teacher.cached_dir(TINY) != teacher.cached_dir(teacher.TeacherSettings())
    assert teacher.cached_dir(TINY) == teacher.cached_dir(teacher.TeacherSettings(**vars(TINY)))


def test_the_new_head_starts_at_the_unigram_distribution(tiny_mlm):
    counts = np.ones(30522)
    counts[1996] = 1000.0  # "the"
    teacher.init_head_at_unigram(tiny_mlm, counts)
    assert tiny_mlm.vocab_projector.bias.argmax().item() == 1996
    assert torch.equal(tiny_mlm.vocab_transform.weight, torch.eye(32))


def test_with_no_layer_trained_only_the_head_learns(tiny_mlm, tmp_path):
    from minidistil.training.mlm import MLMTask
    from minidistil.training.train import TrainConfig, train
    teacher.trainable(tiny_mlm, 0)
    encoder = {k: v.clone() for k, v in tiny_mlm.distilbert.state_dict().items()}
    head = tiny_mlm.vocab_transform.weight.clone()
    masking = teacher.Masking(mask_token_id=103, vocab_size=30522, special_ids=(101, 102, 0, 103))
    rows = [{"input_ids": np.array([101, *range(2000, 2020), 102])} for _ in range(8)]
    train(MLMTask(tiny_mlm, masking), rows, TrainConfig(out_dir=str(tmp_path), max_steps=3, batch_size=4, lr=1e-2,
                                                     progress=False))
    assert all(torch.equal(v, encoder[k]) for k, v in tiny_mlm.distilbert.state_dict().items())
    assert not torch.equal(tiny_mlm.vocab_transform.weight, head)


def test_train_layers_freezes_what_it_says(tiny_mlm):
    teacher.trainable(tiny_mlm, 1)
    trainable = {n for n, p in tiny_mlm.named_parameters() if p.requires_grad}
    assert all(n.startswith(("distilbert.transformer.layer.1.", "vocab_")) for n in trainable)
    teacher.trainable(tiny_mlm, 2)
    assert all(p.requires_grad for p in tiny_mlm.parameters())
    with pytest.raises(ValueError, match="between 0 and 2"):
        teacher.trainable(tiny_mlm, 3)


@pytest.fixture
def tiny_mlm():
    from minidistil import DistilBertConfig, DistilBertForMaskedLM
    torch.manual_seed(0)
    return DistilBertForMaskedLM(DistilBertConfig(vocab_size=30522, dim=32, n_layers=2, n_heads=2, hidden_dim=37))


def test_build_writes_a_complete_teacher_and_a_fair_report(tmp_path, one_thread):
    out = teacher.build(TINY, tmp_path / "t", progress=False)
    assert not (tmp_path / "t.partial").exists()
    report = json.loads((out / "report.json").read_text())
    for scores in (report["released"], report["heldout"]):
        assert 0 <= scores["top1"] <= scores["top5"] <= 1
        assert scores["masked_tokens"] > 50
    # The unigram model is scored on the same masked positions for every model: same numbers.
    for key in ("unigram_perplexity", "unigram_top1", "unigram_top5", "masked_tokens"):
        assert report["released"][key] == report["heldout"][key]
    # The unigram figure, recomputed from the counts and the labels a fresh pass masks.
    model = teacher.DistilBertForMaskedLM.from_pretrained(out / "model")
    heldout = teacher._first_chunks(TokenCorpus(out / "heldout"), TINY)
    counts = TokenCorpus(out / "corpus").counts
    masking = teacher.Masking.for_corpus(heldout)
    generator = torch.Generator().manual_seed(TINY.seed)
    log_p = np.log((counts + 1.0) / (counts.sum() + len(counts)))
    labels = []
    for start in range(0, len(heldout), 32):
        batch = teacher.collate([heldout[i] for i in range(start, min(start + 32, len(heldout)))],
                                pad_token_id=heldout.special_ids["pad"])
        labels += teacher.masked_logits(model.eval(), masking, batch, generator)[1].tolist()
    assert math.isclose(report["heldout"]["unigram_perplexity"], math.exp(-log_p[labels].mean()), rel_tol=1e-5)
    # The folder is a model folder that the fill-mask pipeline loads as it is.
    import minidistil
    filled = minidistil.pipeline("fill-mask", model=str(out / "model"))("the [MASK] of denmark")
    assert len(filled) == 5


def _finished_default_teacher(tmp_path, monkeypatch):
    from minidistil.utils import builds
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    root = teacher.cached_dir()
    (root / "model").mkdir(parents=True)
    (root / "model" / "config.json").write_text("{}")
    (root / "model" / "model.safetensors").write_bytes(b"w" * 100)
    builds.write_manifest(root)
    return root


def test_the_default_teacher_is_reused_once_built(tmp_path, monkeypatch):
    from minidistil.recipes import pretrained, recipe
    root = _finished_default_teacher(tmp_path, monkeypatch)
    monkeypatch.setattr(recipe, "adapt_teacher", lambda *a, **k: pytest.fail("built again"))
    assert pretrained.teacher_dir() == root / "model"
    with warnings.catch_warnings():  # the old name still works, through minidistil._moved
        warnings.simplefilter("ignore", DeprecationWarning)
        assert importlib.import_module("minidistil.sources").mlm_teacher_dir() == root / "model"


def test_a_damaged_default_teacher_says_which_file_and_is_built_again(tmp_path, monkeypatch, capsys):
    from minidistil.recipes import pretrained, teacher
    from minidistil.utils import builds
    root = _finished_default_teacher(tmp_path, monkeypatch)
    (root / "model" / "model.safetensors").write_bytes(b"w" * 40)  # cut short
    with pytest.raises(builds.DamagedEntryError, match=r"model.safetensors has 40 bytes .*"
                                                       r"`python -m minidistil adapt-teacher` to rebuild it"):
        builds.verify(root, rebuild="python -m minidistil adapt-teacher")
    rebuilt = []
    monkeypatch.setattr(teacher, "build_into", lambda *a, **k: rebuilt.append(a))
    monkeypatch.setattr(teacher, "estimate_bytes", lambda base=None: 0)
    pretrained.teacher_dir()
    assert rebuilt and "model.safetensors has 40 bytes" in capsys.readouterr().err


def test_no_module_below_the_command_line_starts_the_command_line():
    from pathlib import Path
    import minidistil
    package = Path(minidistil.__file__).parent
    for path in package.rglob("*.py"):
        if "cli" not in path.relative_to(package).parts:
            assert '"-m", "minidistil"' not in path.read_text(), path


def test_an_output_folder_holding_another_teacher_is_not_silently_reused(tmp_path):
    from minidistil.utils import builds
    out = tmp_path / "teacher"
    out.mkdir()
    (out / "report.json").write_text(json.dumps({"key": TINY.key(), "data": "registry", "base": "all-MiniLM-L6-v2"}))
    builds.write_manifest(out)
    other = teacher.TeacherSettings(**{**vars(TINY), "max_steps": 5})
    with pytest.raises(ValueError, match="already holds a teacher built from other settings"):
        teacher.build(other, out, progress=False)
    assert teacher.build(TINY, out, progress=False) == out  # the same settings: reused as it is
