"""Runs in other processes: resume after a kill is bitwise, and torchrun with 2 processes equals 1.

This file is also the training script those processes run:
    python tests/test_train_processes.py OUT_DIR --steps 8 [--accumulate 2] [--pause 0.3]
"""
import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

SCRIPT = Path(__file__).resolve()
# One thread, and Intel MKL's strict reproducibility mode: MKL may otherwise pick code paths that
# round differently from run to run, and these tests compare weights to the bit.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_CBWR": "AUTO,STRICT", "PYTHONPATH": str(SCRIPT.parents[1])}


def run_training(out_dir: str, steps: int, accumulate: int, pause: float) -> None:
    from torch import nn

    from minidistil import DistilBertConfig, DistilBertForMaskedLM
    from minidistil.data.masking import Masking
    from minidistil.training.mlm import MLMTask
    from minidistil.training.train import TrainConfig, train

    class Slow(nn.Module):  # leaves time to kill the process between two steps
        def __init__(self, task):
            super().__init__()
            self.task = task

        def forward(self, batch):
            time.sleep(pause)
            return self.task(batch)

    torch.manual_seed(0)
    config = DistilBertConfig(vocab_size=53, dim=32, n_heads=2, hidden_dim=37, n_layers=2, max_position_embeddings=32)
    model = DistilBertForMaskedLM(config)  # dropout 0.1: the RNG must be restored too
    rng = np.random.default_rng(0)
    data = [{"input_ids": np.array([2, *rng.integers(5, 53, rng.integers(4, 20)), 3])} for _ in range(40)]
    task = Slow(MLMTask(model, Masking(mask_token_id=4, special_ids=[0, 2, 3, 4], vocab_size=53)))
    train(task, data, TrainConfig(out_dir=out_dir, max_steps=steps, batch_size=8, accumulate=accumulate,
                                  save_every=1, log_every=1, progress=False, warmup=0.2, lr=3e-3))


def final_weights(out_dir) -> dict:
    return torch.load(Path(out_dir) / "checkpoint.pt", weights_only=True)["model"]


def max_difference(a: dict, b: dict) -> str:
    name = max(a, key=lambda k: (a[k].float() - b[k].float()).abs().max())
    return f"largest difference {(a[name].float() - b[name].float()).abs().max():.3g} in {name}"


def saved_step(out_dir) -> int:
    try:
        return torch.load(Path(out_dir) / "checkpoint.pt", weights_only=True)["step"]
    except (FileNotFoundError, RuntimeError, EOFError):
        return 0


STEPS = 6


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted process, global batch 8 as 2 accumulated micro-batches of 4."""
    out = tmp_path_factory.mktemp("reference")
    subprocess.run([sys.executable, SCRIPT, out, "--steps", str(STEPS), "--accumulate", "2"], env=ENV, check=True)
    return final_weights(out)


def test_resume_after_a_kill_gives_bitwise_the_same_weights(tmp_path, reference):
    command = [sys.executable, SCRIPT, tmp_path, "--steps", str(STEPS), "--accumulate", "2"]
    # kill -9 just after the checkpoint of step 3 (minidistil.utils.interrupts), not after watching a clock
    proc = subprocess.run(command, env={**ENV, "MINIDISTIL_SIGKILL_AT": "checkpoint:3"})
    assert proc.returncode == -signal.SIGKILL
    interrupted_at = saved_step(tmp_path)
    assert interrupted_at == 3, interrupted_at

    subprocess.run(command, env=ENV, check=True)
    resumed = final_weights(tmp_path)
    assert saved_step(tmp_path) == STEPS
    assert all(torch.equal(resumed[k], reference[k]) for k in reference), max_difference(resumed, reference)
    logged = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(logged) == STEPS  # lines after the last checkpoint were dropped on resume, none repeated


def test_two_processes_with_torchrun_equal_one_process_with_the_same_global_batch(tmp_path, reference):
    # 2 processes x 1 micro-batch of 4 == 1 process x 2 accumulated micro-batches of 4. Averaging two
    # gradients divides by 2, which is exact in floating point, so the weights agree to the bit.
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                    SCRIPT, tmp_path, "--steps", str(STEPS), "--accumulate", "1"], env=ENV, check=True)
    two = final_weights(tmp_path)
    assert all(torch.equal(two[k], reference[k]) for k in reference), max_difference(two, reference)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--accumulate", type=int, default=1)
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args()
    run_training(args.out_dir, args.steps, args.accumulate, args.pause)
