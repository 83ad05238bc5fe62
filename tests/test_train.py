"""The training loop: it fits, accumulates, schedules, logs, evaluates and stops cleanly on NaN."""
import json

import numpy as np
import pytest
import torch
from torch import nn

from minidistil import DistilBertConfig, DistilBertForMaskedLM
from minidistil.data.batching import collate
from minidistil.data.masking import Masking, mask_tokens
from minidistil.training.mlm import MLMTask
from minidistil.training.train import (NonFiniteLossError, TrainConfig, average_snapshots, evaluate_losses, linear_warmup_decay,
                              make_optimizer, train)

V = 53
SPECIAL = dict(mask_token_id=4, special_ids=[0, 2, 3, 4], vocab_size=V)
MASKING = Masking(**SPECIAL)


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_model(dropout=0.1):
    config = DistilBertConfig(vocab_size=V, dim=32, n_heads=2, hidden_dim=37, n_layers=2, max_position_embeddings=32,
                              dropout=dropout, attention_dropout=dropout)
    return DistilBertForMaskedLM(config)


def examples(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return [{"input_ids": np.array([2, *rng.integers(5, V, rng.integers(4, 20)), 3])} for _ in range(n)]


def quiet(tmp_path, **overrides):
    settings = dict(out_dir=str(tmp_path), max_steps=6, batch_size=4, log_every=1, progress=False, warmup=0.0)
    return TrainConfig(**{**settings, **overrides})


def records(tmp_path):
    return [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]


class FixedMaskMLM(nn.Module):
    """MLM with the same corruption every step: a batch that can be learned by heart."""

    def __init__(self, model, batch):
        super().__init__()
        self.model = model
        self.inputs, self.labels = mask_tokens(batch["input_ids"], batch["attention_mask"], mlm_probability=0.3,
                                               generator=torch.Generator().manual_seed(0), **SPECIAL)

    def forward(self, batch):
        return {"loss": self.model(self.inputs, attention_mask=batch["attention_mask"], labels=self.labels).loss}


def test_overfitting_one_tiny_batch_drops_the_loss_by_90_percent(tmp_path):
    data = examples(4)
    task = FixedMaskMLM(tiny_model(), collate(data))
    train(task, data, quiet(tmp_path, max_steps=60, lr=1e-2))
    losses = [r["loss"] for r in records(tmp_path)]
    assert losses[-1] < 0.1 * losses[0], losses


class Regression(nn.Module):
    """Predict a number from the mean embedding of the tokens: a loss with no randomness in it."""

    def __init__(self):
        super().__init__()
        self.embed, self.out = nn.Embedding(V, 8), nn.Linear(8, 1)

    def forward(self, batch):
        keep = batch["attention_mask"].unsqueeze(-1).float()
        mean = (self.embed(batch["input_ids"]) * keep).sum(1) / keep.sum(1)
        return {"loss": ((self.out(mean).squeeze(-1) - batch["target"]) ** 2).mean()}


def test_gradient_accumulation_equals_one_big_batch(tmp_path):
    data = [{**e, "target": float(len(e["input_ids"]))} for e in examples()]
    weights = []
    for accumulate in (1, 2, 4):
        torch.manual_seed(0)
        task = Regression()
        train(task, data, quiet(tmp_path / str(accumulate), accumulate=accumulate, lr=1e-2))
        weights.append(task.state_dict())
    for other in weights[1:]:
        for name in weights[0]:
            torch.testing.assert_close(other[name], weights[0][name], rtol=1e-5, atol=1e-6, msg=name)
    torch.manual_seed(0)
    assert not torch.equal(weights[0]["out.weight"], Regression().out.weight)  # it did train


def test_metrics_log_every_loss_term_lr_and_speed_and_the_eval_perplexity(tmp_path):
    data = examples()
    task = MLMTask(tiny_model(), MASKING)
    result = train(task, data, quiet(tmp_path, max_steps=4, log_every=2, eval_every=2),
                   eval_fn=lambda t: evaluate_losses(t, data[:8], batch_size=4))
    lines = records(tmp_path)
    assert [r["step"] for r in lines] == [2, 2, 4, 4]
    assert {"loss", "mlm", "lr", "grad_norm", "tokens_per_s"} <= lines[0].keys()
    assert lines[1]["eval_perplexity"] == pytest.approx(np.exp(lines[1]["eval_mlm"]))
    assert result["step"] == 4 and "eval_perplexity" in result
    assert (tmp_path / "checkpoint.pt").exists()


def test_evaluation_is_deterministic_and_leaves_the_task_in_train_mode(tmp_path):
    data = examples()
    task = MLMTask(tiny_model(), MASKING)
    task.train()
    first, second = evaluate_losses(task, data, batch_size=5), evaluate_losses(task, data, batch_size=5)
    assert first == second  # same masks, no dropout
    assert first["perplexity"] > 1
    assert task.training


def test_no_weight_decay_on_biases_and_layer_norms():
    model = tiny_model()
    decay, no_decay = make_optimizer(MLMTask(model, MASKING), TrainConfig(weight_decay=0.1)).param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(n.endswith("weight") and "layer_norm" not in n and "LayerNorm" not in n
               for n in (names[id(p)] for p in decay["params"]))
    assert {names[id(p)] for p in no_decay["params"]} == {n for n, p in model.named_parameters() if p.ndim == 1}
    assert decay["betas"] == (0.9, 0.98) and decay["eps"] == 1e-6


def test_warmup_then_linear_decay_to_zero():
    factors = [linear_warmup_decay(s, warmup_steps=4, total_steps=12) for s in range(13)]
    assert factors[:5] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert factors[8] == pytest.approx(0.5) and factors[12] == 0.0


def test_bf16_autocast_trains(tmp_path):
    task = MLMTask(tiny_model(), MASKING)
    result = train(task, examples(), quiet(tmp_path, bf16=True, max_steps=3))
    assert np.isfinite(result["loss"])


class BlowsUp(nn.Module):
    """A loss that turns NaN at step 4."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))
        self.calls = 0

    def forward(self, batch):
        self.calls += 1
        loss = (self.w ** 2).sum()
        return {"loss": loss * float("nan") if self.calls == 4 else loss}


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    task = BlowsUp()
    with pytest.raises(NonFiniteLossError, match="not finite at step 4.*last good checkpoint .* is intact"):
        train(task, examples(), quiet(tmp_path, save_every=1, max_steps=10))
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 3 and torch.isfinite(saved["model"]["w"]).all()
    assert torch.isfinite(task.w).all()  # the bad step never reached the weights


@pytest.mark.parametrize("settings, message", [
    (dict(batch_size=10, accumulate=3), "multiple of accumulate"),
    (dict(max_steps=0), "max_steps must be a positive integer"),
    (dict(warmup=1.5), "warmup is a fraction"),
    (dict(lr=-1.0), "lr must be > 0"),
])
def test_bad_configs_raise_a_sentence(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings)


def test_a_frozen_task_has_nothing_to_train(tmp_path):
    model = tiny_model().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        train(MLMTask(model, MASKING), examples(), quiet(tmp_path))


def test_resume_refuses_changed_settings_and_corrupt_checkpoints(tmp_path):
    train(MLMTask(tiny_model(), MASKING), examples(), quiet(tmp_path, max_steps=2))
    with pytest.raises(ValueError, match="written with lr=0.0005 .*now 0.001.*same settings"):
        train(MLMTask(tiny_model(), MASKING), examples(), quiet(tmp_path, max_steps=2, lr=1e-3))
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt or not a minidistil checkpoint.*delete it"):
        train(MLMTask(tiny_model(), MASKING), examples(), quiet(tmp_path, max_steps=2))


def test_the_loss_curve_png_is_drawn_when_matplotlib_is_installed(tmp_path):
    import importlib.util
    train(MLMTask(tiny_model(), MASKING), examples(), quiet(tmp_path, max_steps=2))
    assert (tmp_path / "loss.png").exists() == (importlib.util.find_spec("matplotlib") is not None)


def test_every_step_takes_the_shared_training_settings_plus_its_own():
    """lr, batch_size, seed and bf16 are declared once (TrainSettings); each step gives only the defaults
    it needs otherwise, and hands them to the loop by name."""
    from dataclasses import fields
    from minidistil.training.finetune import FinetuneConfig, loop_config
    from minidistil.recipes.teacher import TeacherSettings
    from minidistil.training.train import TrainSettings
    shared = [f.name for f in fields(TrainSettings)]
    assert shared == ["lr", "batch_size", "seed", "bf16"]
    for cls in (TrainConfig, FinetuneConfig, TeacherSettings):
        assert issubclass(cls, TrainSettings)
        assert [f.name for f in fields(cls)][:4] == shared
    assert (TrainConfig().lr, FinetuneConfig().lr, TeacherSettings().lr) == (5e-4, 5e-5, 3e-4)
    assert FinetuneConfig().batch_size == TeacherSettings().batch_size == TrainConfig().batch_size
    cfg = FinetuneConfig(lr=1e-4, batch_size=8, seed=3, bf16=True)
    assert loop_config(cfg, 80).shared() == {"lr": 1e-4, "batch_size": 8, "seed": 3, "bf16": True}


def test_the_default_teacher_keeps_its_cache_key():
    """The key names the cached teacher folder: moving the shared fields into TrainSettings must not rename it."""
    from minidistil.recipes.teacher import TeacherSettings
    assert TeacherSettings().key() == "f248dab7"
    assert TeacherSettings(lr=1e-4).key() != "f248dab7"


def test_snapshots_are_the_weights_at_their_step_and_average_by_hand(tmp_path):
    data = examples(4)
    task = FixedMaskMLM(tiny_model(), collate(data))
    train(task, data, quiet(tmp_path, max_steps=6, save_every=2, keep_every=2, lr=1e-2))
    kept = sorted((tmp_path / "snapshots").glob("step-*.pt"))
    assert [p.name for p in kept] == ["step-2.pt", "step-4.pt", "step-6.pt"]
    final = torch.load(kept[-1], weights_only=True)
    assert all(torch.equal(final[k], v) for k, v in task.state_dict().items())  # the last one is the run's end
    first = torch.load(kept[0], weights_only=True)
    name = "model.vocab_projector.weight"
    assert not torch.equal(first[name], final[name])  # the weights moved between snapshots
    mean = average_snapshots(kept[:1] + kept[-1:])
    assert torch.allclose(mean[name], (first[name] + final[name]) / 2)


def test_snapshots_come_with_checkpoints():
    with pytest.raises(ValueError, match="multiple of save_every"):
        TrainConfig(save_every=4, keep_every=6)
