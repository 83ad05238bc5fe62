"""One training loop for MLM pretraining, distillation and fine-tuning.

The loop knows nothing about language models. It trains a *task*: an `nn.Module` whose forward
takes a batch (a dict of tensors from `collate`) and returns a dict of scalar losses, `"loss"`
being the one to minimise and the others (say `"mlm"`, `"ce"`, `"cos"`) logged separately:

    class ClassificationTask(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model
        def forward(self, batch):
            out = self.model(batch["input_ids"], batch["attention_mask"], labels=batch["label"])
            return {"loss": out.loss}

    result = train(ClassificationTask(model), examples, TrainConfig(out_dir="runs/sst", max_steps=500),
                   eval_fn=lambda task: {"accuracy": ...})

`examples` is anything with `len()` and `examples[i] -> dict` (`input_ids` plus any label fields), and
optionally a `lengths` array for length-grouped batches; see `minidistil.data.batching.collate` for how a batch
is built (pass your own `collate_fn` for other fields). `minidistil.training.mlm.MLMTask` is the smallest real task;
`minidistil.training.distill.DistillationTask` is the DistilBERT recipe.

Entry points for new kinds of training (fine-tuning heads, evaluation):
- `train(task, examples, config, collate_fn=..., eval_fn=...)`: the loop. It returns the last logged
  metrics. `eval_fn(task) -> dict of floats` runs every `eval_every` steps and at the end, in eval
  mode under no_grad; its results are logged as `eval_<name>`. An exception raised inside `eval_fn`
  (say, an early stop) ends the run; the last checkpoint stays on disk.
- `TrainConfig`: every setting, validated (the shared ones, `TrainSettings`, are what every step's
  settings extend); `out_dir` receives checkpoint.pt, metrics.jsonl, loss.png.
  A second call with the same `out_dir` resumes from checkpoint.pt (`delete_checkpoint` to start over).
- `evaluate_losses(task, examples)`: mean loss terms over held-out examples (+ MLM perplexity).
- `make_optimizer`, `make_scheduler`: the parts, for reuse; the checkpoints (`save_checkpoint`,
  `load_checkpoint`, `delete_checkpoint`) are in `minidistil.training.resume`.

What the loop does, and why:
- AdamW with DistilBERT's betas (0.9, 0.98) and eps 1e-6; no weight decay on biases and LayerNorm
  (every parameter with fewer than two dimensions), as BERT. Linear warmup, then linear decay to 0.
- `batch_size` is the global batch: examples per optimizer step, over all processes and all
  accumulation steps. It is cut into processes x `accumulate` equal micro-batches, each masked and
  averaged on its own; so two processes with `accumulate=1` compute exactly what one process with
  `accumulate=2` does (up to the order of float additions).
- Every micro-batch seeds the global RNG from (seed, step, micro-batch index) before its forward,
  so masking and dropout depend on nothing else: a resumed run and a run split over processes draw
  the same random numbers as one uninterrupted process. Resume is therefore bitwise.
- Checkpoints are written atomically (temporary file, read back and verified, then rename): a kill
  never leaves half a file. Every tensor's sha256 is stored inside and checked on resume; the
  previous checkpoint is kept beside the latest (checkpoint.prev.pt) and resumed from, with a
  warning, when the latest is damaged. A full disk raises `CheckpointWriteError` in one sentence.
- A non-finite loss or gradient stops the run before the optimizer step, with the last good
  checkpoint left intact.
- Under `torchrun` (WORLD_SIZE > 1) the task is wrapped in DistributedDataParallel (gloo on CPU).
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from minidistil.data.batching import collate, training_batches
from minidistil.utils.plots import plot_run
from minidistil.training.resume import load_checkpoint, save_checkpoint
from minidistil.utils import interrupts


@dataclass(frozen=True)
class TrainSettings:
    """The training settings every step shares. Each step's settings extend this class with their own
    fields (`TrainConfig` for the loop, `finetune.FinetuneConfig`, `teacher.TeacherSettings`); a step
    that needs another default gives the field again with it (fine-tuning's lr is 5e-5)."""
    lr: float = 5e-4                 # peak learning rate (DistilBERT: 5e-4)
    batch_size: int = 32             # examples per optimizer step, over all processes and accumulation
    seed: int = 56                   # DistilBERT's seed
    bf16: bool = False               # bfloat16 autocast for the forward pass (weights stay float32)

    def shared(self) -> dict:
        """These settings by name, for the loop: `TrainConfig(**settings.shared(), max_steps=...)`."""
        return {f.name: getattr(self, f.name) for f in fields(TrainSettings)}


@dataclass(frozen=True)
class TrainConfig(TrainSettings):
    """The loop's settings: the shared ones (`TrainSettings`) and those only the loop reads."""
    out_dir: str = "runs/train"      # checkpoint.pt, metrics.jsonl and loss.png go here
    max_steps: int = 1000            # optimizer steps
    accumulate: int = 1              # micro-batches per process per step (gradient accumulation)
    betas: tuple[float, float] = (0.9, 0.98)  # AdamW betas (DistilBERT's; PyTorch's default is 0.999)
    eps: float = 1e-6                # AdamW eps (DistilBERT's)
    weight_decay: float = 0.01       # on weight matrices only (BERT: 0.01; DistilBERT's code: 0.0)
    warmup: float = 0.05             # fraction of max_steps with a linear warmup (DistilBERT: 0.05)
    max_grad_norm: float = 5.0       # clip the global gradient norm to this; 0 turns clipping off
    max_tokens: int = 0              # > 0: batches of up to this many padded tokens (TokenBudgetBatches) instead of batch_size rows
    save_every: int = 100            # steps between checkpoints (one is always written at the end)
    keep_every: int = 0              # > 0: also keep the weights every this many steps (snapshots/step-N.pt), for learning curves and checkpoint averaging
    log_every: int = 10              # steps between lines of metrics.jsonl
    eval_every: int = 0              # steps between eval passes; 0: only at the end
    progress: bool = True            # a tqdm bar on the console

    def __post_init__(self):
        object.__setattr__(self, "betas", tuple(self.betas))  # a list from JSON or flags
        for name in ("max_steps", "batch_size", "accumulate", "save_every", "log_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        # `not (...)` so that NaN, which fails every comparison, is refused too.
        if not 0 < self.lr <= 1:
            raise ValueError(f"lr must be > 0 and at most 1 (AdamW diverges at once above it; 1e-5 to 1e-3 is "
                             f"usual), got {self.lr}")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup is a fraction of max_steps in [0, 1), got {self.warmup}")
        if not (0 <= self.max_grad_norm < math.inf and 0 <= self.weight_decay < math.inf and self.eval_every >= 0
                and self.max_tokens >= 0):
            raise ValueError(f"max_grad_norm, weight_decay, eval_every and max_tokens must be finite and >= 0, got "
                             f"{self.max_grad_norm}, {self.weight_decay}, {self.eval_every} and {self.max_tokens}")
        if not (len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas) and 0 < self.eps < 1):
            raise ValueError(f"betas must be two numbers in [0, 1) and eps a small positive number, got "
                             f"{self.betas} and {self.eps}")
        if self.keep_every < 0 or (self.keep_every and self.keep_every % self.save_every):
            raise ValueError(f"keep_every must be 0 or a multiple of save_every ({self.save_every}): snapshots are "
                             f"taken when a checkpoint is, got {self.keep_every}")
        if self.batch_size % self.accumulate:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of accumulate "
                             f"({self.accumulate}): each step splits its batch into equal micro-batches")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: says the step reached and the step a rerun resumes from."""

    def __init__(self, step: int, resume_step: int):
        super().__init__(step, resume_step)
        self.step, self.resume_step = step, resume_step

    def __str__(self):
        again = (f"run the same command to resume from step {self.resume_step}" if self.resume_step
                 else "no checkpoint was written yet, so the same command starts again from step 0")
        return f"interrupted at step {self.step}; {again}"


class NonFiniteLossError(RuntimeError):
    """The loss or the gradient became NaN or infinite; the run stopped before the optimizer step."""


# ---------------------------------------------------------------- the loop

def train(task: nn.Module, data, config: TrainConfig, *, collate_fn: Callable = collate,
          eval_fn: Callable[[nn.Module], dict] | None = None) -> dict:
    """Train `task` on `data` for `config.max_steps` steps; resume from `out_dir` if it holds a checkpoint.

    Returns the last logged metrics (with `step`), and the last eval results as `eval_*`.
    `eval_fn(task)` runs on process 0 with the task in eval mode, under no_grad, and returns a dict
    of floats (see `evaluate_losses`). Run under `torchrun` for several processes.
    """
    rank, world, started_here = _init_distributed()
    try:
        micro = _micro_batch_size(config, world)
        out = Path(config.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        device = next(task.parameters()).device
        optimizer = make_optimizer(task, config)
        scheduler = make_scheduler(optimizer, config)
        step = load_checkpoint(out / "checkpoint.pt", task, optimizer, scheduler, config, world)
        saved = step  # the step a rerun resumes from
        log = MetricsLog(out / "metrics.jsonl", resume_step=step, active=rank == 0)
        model = _wrap_distributed(task, device) if world > 1 else task
        lengths = getattr(data, "lengths", np.ones(len(data), dtype=np.int64))
        batches = training_batches(lengths, config.batch_size, config.max_tokens, config.seed)
        params = [p for p in task.parameters() if p.requires_grad]
        result: dict = {"step": step}
        bar = tqdm(total=config.max_steps, initial=step, unit="step", disable=rank > 0 or not config.progress)

        task.train()
        try:
            while step < config.max_steps:
                start_time = time.perf_counter()
                indices = batches.batch(step)
                totals: dict[str, torch.Tensor] = {}
                n_tokens = torch.zeros((), device=device)
                for a in range(config.accumulate):
                    m = rank * config.accumulate + a  # this micro-batch's index within the global batch
                    part = indices[m * micro:(m + 1) * micro] if micro else indices  # a token budget: the whole batch
                    batch = collate_fn([data[int(i)] for i in part])
                    batch = {k: v.to(device) for k, v in batch.items()}
                    torch.manual_seed(_micro_seed(config.seed, step, m))
                    last = a == config.accumulate - 1
                    # Sync gradients across processes only on the last micro-batch of the step.
                    sync = nullcontext() if world == 1 or last else model.no_sync()
                    with sync:
                        with torch.autocast(device.type, torch.bfloat16, enabled=config.bf16):
                            losses = model(batch)
                        (losses["loss"] / config.accumulate).backward()
                    for name, value in losses.items():
                        totals[name] = totals.get(name, 0.0) + value.detach().float() / config.accumulate
                    n_tokens += batch["attention_mask"].sum()

                grad_norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm or math.inf)
                stats = _mean_over_processes(torch.stack([*totals.values(), grad_norm.float(), n_tokens]), world)
                if not torch.isfinite(stats).all():
                    raise NonFiniteLossError(_non_finite_message(step, totals.keys(), stats, out))
                lr = scheduler.get_last_lr()[0]  # the rate this step uses
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                bar.update(1)

                if step % config.log_every == 0 or step == config.max_steps:
                    result = {"step": step, **{k: v.item() for k, v in zip(totals, stats)},
                              "grad_norm": stats[-2].item(), "lr": lr,
                              "tokens_per_s": stats[-1].item() * world / (time.perf_counter() - start_time)}
                    log.write(result)
                    bar.set_postfix(loss=f"{result['loss']:.4f}", lr=f"{result['lr']:.2e}")
                if eval_fn is not None and rank == 0 and (
                        step == config.max_steps or (config.eval_every and step % config.eval_every == 0)):
                    evaluation = _run_eval(task, eval_fn)
                    log.write({"step": step, **evaluation})
                    result.update(evaluation)
                if step % config.save_every == 0 or step == config.max_steps:
                    if rank == 0:
                        save_checkpoint(out / "checkpoint.pt", task, optimizer, scheduler, config, step, world)
                        if config.keep_every and step % config.keep_every == 0:
                            keep_snapshot(task, out / "snapshots" / f"step-{step}.pt")
                    saved = step
                    interrupts.point(f"checkpoint:{step}")  # tests interrupt here, not after a guessed delay
        except KeyboardInterrupt:
            bar.close()
            raise TrainingInterrupted(step, saved) from None
        bar.close()
        if rank == 0:
            plot_run(out / "metrics.jsonl", out / "loss.png", title=f"{out.name}: {type(task).__name__}")
        return result
    finally:
        if started_here:
            dist.destroy_process_group()


def keep_snapshot(task: nn.Module, path: Path) -> None:
    """The task's weights alone (no optimizer state), written whole or not at all; read them back with
    `torch.load(path, weights_only=True)`. The training run never reads them: they are for learning
    curves (a score per snapshot) and checkpoint averaging."""
    path.parent.mkdir(parents=True, exist_ok=True)
    unfinished = path.with_suffix(".partial")
    torch.save({k: v.detach().clone() for k, v in task.state_dict().items()}, unfinished)
    os.replace(unfinished, path)


def model_weights(state: dict) -> dict[str, torch.Tensor]:
    """The model's weights in a task's state (a snapshot, or `average_snapshots`): the keys under "model.",
    without that prefix, ready for the model's `load_state_dict`."""
    return {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}


def average_snapshots(paths) -> dict[str, torch.Tensor]:
    """The mean of several snapshots' weights (checkpoint averaging, Vaswani et al. 2017: the last few
    snapshots of a run, averaged, often score better than the last alone). Integer tensors (buffers
    such as position ids) are taken from the last snapshot."""
    paths = list(paths)
    if not paths:
        raise ValueError("average_snapshots needs at least one snapshot file")
    states = [torch.load(path, map_location="cpu", weights_only=True) for path in paths]
    if any(state.keys() != states[0].keys() for state in states):
        raise ValueError(f"the snapshots {', '.join(map(str, paths))} hold different weights: average snapshots of one run")
    return {k: torch.stack([state[k] for state in states]).mean(0) if states[-1][k].is_floating_point() else states[-1][k]
            for k in states[-1]}


def _micro_seed(seed: int, step: int, micro_batch: int) -> int:
    return int(np.random.SeedSequence([seed, step, micro_batch]).generate_state(1)[0])


def _micro_batch_size(config: TrainConfig, world: int) -> int:
    """Examples per micro-batch; 0 with a token budget, whose batches are not split."""
    if config.max_tokens:
        if world * config.accumulate > 1:
            raise ValueError("max_tokens batches are not split across processes or accumulation steps; run one "
                             "process with accumulate=1, or use batch_size")
        return 0
    if config.batch_size % (world * config.accumulate):
        raise ValueError(f"batch_size ({config.batch_size}) must be a multiple of processes x accumulate "
                         f"({world} x {config.accumulate}) so that every micro-batch has the same size")
    return config.batch_size // (world * config.accumulate)


def _non_finite_message(step, names, stats, out: Path) -> str:
    values = ", ".join(f"{n}={v:.4g}" for n, v in zip([*names, "grad_norm"], stats.tolist()))
    ckpt = out / "checkpoint.pt"
    kept = f"the last good checkpoint {ckpt} is intact" if ckpt.exists() else "no checkpoint was written yet"
    return (f"the loss or gradient is not finite at step {step + 1} ({values}); the run stopped before "
            f"updating the weights and {kept}; lower the learning rate, or turn bf16 off")


def _run_eval(task: nn.Module, eval_fn) -> dict:
    task.eval()
    with torch.no_grad():
        results = eval_fn(task)
    task.train()
    return {f"eval_{k}": float(v) for k, v in results.items()}


# ---------------------------------------------------------------- optimizer and schedule

def make_optimizer(task: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; biases and LayerNorm weights (every parameter with < 2 dims) get no weight decay."""
    trainable = [(n, p) for n, p in task.named_parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the task has no trainable parameters; unfreeze something to train")
    groups = [{"params": [p for _, p in trainable if p.ndim >= 2], "weight_decay": config.weight_decay},
              {"params": [p for _, p in trainable if p.ndim < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, eps=config.eps)


def linear_warmup_decay(step: int, warmup_steps: int, total_steps: int) -> float:
    """The learning-rate factor: 0 -> 1 over the warmup, then 1 -> 0 at the last step (as BERT)."""
    if step < warmup_steps:
        return step / warmup_steps
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def make_scheduler(optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    warmup_steps = int(config.warmup * config.max_steps)
    factor = partial(linear_warmup_decay, warmup_steps=warmup_steps, total_steps=config.max_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# ---------------------------------------------------------------- metrics

class MetricsLog:
    """metrics.jsonl, one JSON object per line. On resume, lines after the checkpoint's step are
    dropped, so the log reads as if the run had never stopped."""

    def __init__(self, path: Path, resume_step: int, active: bool = True):
        self.path, self.active = path, active
        if active and path.exists():
            kept, bad = [], 0
            for line in path.read_text(errors="replace").splitlines():
                if not line.strip():
                    continue
                try:
                    step = json.loads(line)["step"]
                except (ValueError, KeyError, TypeError):  # a line cut by a kill, or damaged: the run goes on
                    bad += 1
                    continue
                if isinstance(step, int) and step <= resume_step:
                    kept.append(line)
            if bad:
                warnings.warn(f"{path}: {bad} line(s) were not whole JSON records (cut short when the run was "
                              f"stopped, or damaged) and were dropped; the run goes on from step {resume_step}",
                              UserWarning, stacklevel=3)
            path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict) -> None:
        if self.active:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")


# ---------------------------------------------------------------- distributed

def _init_distributed() -> tuple[int, int, bool]:
    """(rank, world size, whether this call started the process group). torchrun sets WORLD_SIZE."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return dist.get_rank(), dist.get_world_size(), True
    return 0, 1, False


def _wrap_distributed(task: nn.Module, device: torch.device) -> nn.Module:
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(task, device_ids=device_ids)


def _mean_over_processes(values: torch.Tensor, world: int) -> torch.Tensor:
    if world > 1:
        dist.all_reduce(values)
        values = values / world
    return values


# ---------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate_losses(task: nn.Module, data, *, batch_size: int = 32, collate_fn: Callable = collate,
                    seed: int = 0) -> dict:
    """The mean of each loss term over `data`, in order, with fixed masks (seeded per batch).

    When the task reports an `"mlm"` term, `perplexity = exp(mean MLM loss)` is added: the
    held-out MLM perplexity, comparable between runs that use the same data and seed.
    Runs in eval mode (no dropout) and puts the task back in the mode it found it in.
    """
    was_training = task.training
    task.eval()
    device = next(task.parameters()).device
    sums: dict[str, float] = {}
    weight = 0.0
    for b, start in enumerate(range(0, len(data), batch_size)):
        batch = collate_fn([data[i] for i in range(start, min(start + batch_size, len(data)))])
        torch.manual_seed(seed + b)
        losses = task({k: v.to(device) for k, v in batch.items()})
        n_tokens = float(batch["attention_mask"].sum())  # weight batches by size: a short last batch counts less
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + value.item() * n_tokens
        weight += n_tokens
    task.train(was_training)
    means = {name: total / weight for name, total in sums.items()}
    if "mlm" in means:
        means["perplexity"] = math.exp(means["mlm"])
    return means
