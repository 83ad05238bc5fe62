"""The training state on disk: a checkpoint that a run resumes from, bitwise, or refuses to.

A checkpoint holds what an exact resume needs: the task's weights, the optimizer's and the
scheduler's state, every random generator, the step (the data position: batches are a pure
function of the step) and the settings. `minidistil.training.train.train` writes one every `save_every`
steps and reads it back when a run starts in a folder that holds one.
"""
from __future__ import annotations

import errno
import hashlib
import os
import random
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

# Settings that change the result: a checkpoint refuses to resume under different ones. The
# number of micro-batches per step (processes x accumulate) must match too, but not how it is split.
RESUME_MUST_MATCH = ("max_steps", "batch_size", "lr", "betas", "eps", "weight_decay", "warmup",
                     "max_grad_norm", "seed", "bf16")


# checkpoint.pt is the latest checkpoint and checkpoint.prev.pt the one before it. A new one is
# written to checkpoint.pt.tmp (the one before the latest is dropped first, to make room), read back
# and checked against the checksums stored inside it, and only then renamed into place, the old
# latest becoming the previous. So a verified checkpoint is on disk at every moment, and a resume
# whose latest checkpoint is damaged (a flipped bit, a file cut short) falls back to the previous
# one with a warning and sets the damaged file aside. torch.load checks no checksum of its own.

class CheckpointWriteError(OSError):
    """A checkpoint could not be written (say, the disk is full); the previous one is left as it was."""

    def __str__(self):
        return self.strerror


def previous_checkpoint(path: Path) -> Path:
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def delete_checkpoint(path: Path) -> None:
    """Remove a checkpoint and what is kept beside it: the previous one, a half-written temporary
    file, a damaged one set aside on resume."""
    for p in (path, previous_checkpoint(path), path.with_name(path.name + ".tmp"),
              path.with_name(path.name + ".damaged")):
        p.unlink(missing_ok=True)


def save_checkpoint(path: Path, task, optimizer, scheduler, config, step: int, world: int = 1) -> None:
    """Everything a bitwise resume needs, with a checksum of every tensor. Written to a temporary
    file, read back and verified, then renamed into place; the checkpoint it replaces is kept as
    `previous_checkpoint(path)`. A failed write removes the temporary file and raises
    `CheckpointWriteError`, leaving the latest checkpoint on disk as it was."""
    numpy_state = np.random.get_state()
    state = {
        "step": step,  # the data position: batches are a pure function of the step
        "micro_batches": world * config.accumulate,
        "model": task.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {"torch": torch.get_rng_state(), "python": random.getstate(),
                "numpy": (numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:])},
        "config": asdict(config),
    }
    state["checksums"] = checksums(state)
    tmp = path.with_name(path.name + ".tmp")
    previous = previous_checkpoint(path)
    if path.exists():
        # While the new checkpoint is written the latest one is the fallback; the one before it is
        # no longer needed, and its room may be (a full disk is the usual reason a write fails).
        previous.unlink(missing_ok=True)
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        problem = _check(torch.load(tmp, map_location="cpu", weights_only=True, mmap=True))
        if problem:
            raise CheckpointWriteError(errno.EIO, f"the checkpoint of step {step} did not read back as written "
                                                  f"({problem}); check the disk holding {path.parent}")
    except BaseException as e:
        tmp.unlink(missing_ok=True)  # a left-over .tmp would fill the disk again on the next try
        cause = _os_error(e)
        if cause is None or isinstance(e, CheckpointWriteError):
            raise
        raise CheckpointWriteError(cause.errno, _write_failed(path, step, cause, state)) from None
    if path.exists():
        previous.unlink(missing_ok=True)
        # A hard link keeps the latest under its own name too, so a kill at any moment of the swap
        # leaves a checkpoint.pt to resume from.
        try:
            os.link(path, previous)
        except OSError:  # a file system without hard links
            os.replace(path, previous)
    os.replace(tmp, path)


def _os_error(e: BaseException) -> OSError | None:
    """The OSError behind `e`, if any: torch.save reports a failed write as a C++ RuntimeError
    ("enforce fail ... unexpected pos") whose context holds the real error."""
    while e is not None:
        if isinstance(e, OSError):
            return e
        e = e.__cause__ or e.__context__
    return None


def _write_failed(path: Path, step: int, cause: OSError, state: dict) -> str:
    after = f"the last one written, {path}, is left as it was" if path.exists() else "no earlier checkpoint exists"
    if cause.errno in (errno.ENOSPC, errno.EDQUOT):
        size = sum(t.numel() * t.element_size() for _, t in _tensors(state))
        size = f"{size / 1e6:.0f} MB" if size >= 1e7 else f"{size / 1e3:.0f} kB"
        return (f"the disk holding {path.parent} is full, so the checkpoint of step {step} (about {size}) "
                f"was not written and {after}; free some space and run the same command again to resume")
    return (f"the checkpoint of step {step} could not be written to {path.parent} ({cause.strerror or cause}) "
            f"and {after}; fix that and run the same command again to resume")


def checksums(state: dict) -> dict[str, str]:
    """sha256 of every tensor (its dtype, shape and bytes), keyed by its place in `state`, plus
    one over all the other values (step, settings, the Python RNG state)."""
    sums = {name: _tensor_sha256(t) for name, t in _tensors(state)}
    sums["non-tensor values"] = hashlib.sha256(repr(_without_tensors(state)).encode()).hexdigest()
    return sums


def _tensors(value, name: str = ""):
    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, dict):
        for key, v in value.items():
            if key != "checksums":
                yield from _tensors(v, f"{name}/{key}" if name else str(key))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _tensors(v, f"{name}/{i}")


def _without_tensors(value):
    """`value` with every tensor replaced by a placeholder, containers made plain lists: the same
    for what was saved and what torch.load gives back."""
    if isinstance(value, torch.Tensor):
        return "tensor"
    if isinstance(value, dict):
        return [(key, _without_tensors(v)) for key, v in value.items() if key != "checksums"]
    if isinstance(value, (list, tuple)):
        return [_without_tensors(v) for v in value]
    return value


def _tensor_sha256(t: torch.Tensor) -> str:
    t = t.detach().cpu().contiguous()
    digest = hashlib.sha256(f"{t.dtype} {tuple(t.shape)}".encode())
    digest.update(t.reshape(-1).view(torch.uint8).numpy())  # the raw bytes, whatever the dtype
    return digest.hexdigest()


def _check(state) -> str | None:
    """What is wrong with a loaded checkpoint, in a few words; None when it is whole."""
    if not isinstance(state, dict) or not {"step", "micro_batches", "model", "optimizer", "scheduler", "rng",
                                           "config"} <= state.keys():
        return "its contents are not those of a minidistil checkpoint"
    if "checksums" not in state:
        return None  # written before checksums existed: nothing to check it against
    expected, found = state["checksums"], checksums(state)
    bad = [name for name in expected.keys() | found.keys() if expected.get(name) != found.get(name)]
    if bad:
        return f"checksum mismatch in {len(bad)} entries, such as {sorted(bad)[0]}"
    return None


def _read_checkpoint(path: Path) -> tuple[dict | None, str | None]:
    """(state, None) for a whole checkpoint, (None, what is wrong) otherwise."""
    if not path.exists():
        return None, "it is missing"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        return None, f"torch.load fails with {type(e).__name__}"
    problem = _check(state)
    return (None, problem) if problem else (state, None)


def load_checkpoint(path: Path, task, optimizer, scheduler, config, world: int = 1) -> int:
    """Restore the checkpoint at `path` if there is one; return the step to continue from (0 when there
    is none). If it is damaged, the previous checkpoint kept beside it is used, with a warning."""
    latest, previous = path, previous_checkpoint(path)
    if not latest.exists() and not previous.exists():
        return 0
    state, problem = _read_checkpoint(latest)
    if state is None:
        state, problem_before = _read_checkpoint(previous) if previous.exists() else (None, None)
        if state is None:
            also = f"; the previous checkpoint {previous} is damaged too ({problem_before})" if problem_before \
                else ""
            raise ValueError(f"{latest} is corrupt or not a minidistil checkpoint ({problem}){also}; "
                             f"delete it to start from scratch")
        path = previous
    step = int(state["step"])
    changed = [k for k in RESUME_MUST_MATCH if _as_list(state["config"][k]) != _as_list(getattr(config, k))]
    if changed:
        was = ", ".join(f"{k}={state['config'][k]!r} (now {getattr(config, k)!r})" for k in changed)
        raise ValueError(f"{path} was written with {was}; resume with the same settings, "
                         f"or use another out_dir to start a new run")
    if state["micro_batches"] != world * config.accumulate:
        raise ValueError(f"{path} was written with {state['micro_batches']} micro-batches per step (processes x "
                         f"accumulate) but this run has {world} x {config.accumulate}; keep the product equal")
    if path == previous:
        aside = _set_aside(latest)
        warnings.warn(f"{latest} cannot be used ({problem}); resuming from the previous checkpoint {previous} "
                      f"(step {step}), the steps after it are trained again{aside}", UserWarning, stacklevel=2)
    task.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"]["torch"])
    random.setstate(state["rng"]["python"])
    name, keys, *rest = state["rng"]["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    return step


def _set_aside(latest: Path) -> str:
    """Rename a damaged latest checkpoint, so that the next save does not keep it as the previous one."""
    damaged = latest.with_name(latest.name + ".damaged")
    try:
        os.replace(latest, damaged)
    except FileNotFoundError:  # missing, or another process of the run moved it first
        return ""
    return f"; the damaged file is kept as {damaged}"


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else value
