"""Checkpoints: every tensor carries a checksum, a damaged latest checkpoint falls back to the previous
one, and a full disk is reported in one sentence with nothing half-written left behind."""
import errno
import io

import numpy as np
import pytest
import torch
from torch import nn

from minidistil.training.resume import CheckpointWriteError, checksums, delete_checkpoint, previous_checkpoint
from minidistil.training.train import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread (conftest)


class TinyTask(nn.Module):
    """An embedding, dropout and a linear layer: optimizer state, RNG use, and a 13 x 7 weight to damage."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embedding, self.dropout, self.out = nn.Embedding(13, 7), nn.Dropout(0.1), nn.Linear(7, 1)

    def forward(self, batch):
        hidden = self.dropout(self.embedding(batch["input_ids"])) * batch["attention_mask"][..., None]
        return {"loss": self.out(hidden).pow(2).mean()}


def examples():
    rng = np.random.default_rng(0)
    return [{"input_ids": rng.integers(0, 13, rng.integers(3, 9))} for _ in range(16)]


class Stop(Exception):
    pass


def run(folder, stop_after=None):
    """Train 6 steps with a checkpoint after each; with `stop_after`, stop once that step is saved."""
    task = TinyTask()
    evaluated = []

    def stop_when_told(task):  # an exception in eval_fn ends the run, as an interruption does
        evaluated.append(1)
        if stop_after is not None and len(evaluated) > stop_after:
            raise Stop
        return {}

    try:
        train(task, examples(), TrainConfig(out_dir=str(folder), max_steps=6, batch_size=4, save_every=1,
                                            eval_every=1, log_every=1, progress=False, warmup=0.0, lr=1e-2),
              eval_fn=stop_when_told)
    except Stop:
        pass
    return task.state_dict()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Six uninterrupted steps."""
    return run(tmp_path_factory.mktemp("reference"))


def assert_same(a, b):
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def flip_a_bit_of(path, tensor):
    """Flip one bit in the middle of `tensor`'s bytes inside the checkpoint file."""
    data = bytearray(path.read_bytes())
    raw = tensor.numpy().tobytes()
    at = data.find(raw)
    assert at >= 0 and data.find(raw, at + 1) < 0
    data[at + len(raw) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def test_every_tensor_is_saved_with_its_checksum(tmp_path):
    run(tmp_path, stop_after=2)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    sums = saved["checksums"]
    assert {"model/embedding.weight", "optimizer/state/0/exp_avg", "rng/torch", "non-tensor values"} <= sums.keys()
    assert sums == checksums(saved)
    assert torch.load(previous_checkpoint(tmp_path / "checkpoint.pt"), weights_only=True)["step"] == 1


def test_a_bit_flip_in_the_latest_checkpoint_resumes_from_the_previous_one_bitwise(tmp_path, reference):
    run(tmp_path, stop_after=4)
    latest = tmp_path / "checkpoint.pt"
    flip_a_bit_of(latest, torch.load(latest, weights_only=True)["model"]["embedding.weight"])
    with pytest.warns(UserWarning, match="checkpoint.pt cannot be used .checksum mismatch in 1 entries, such as "
                                         "model/embedding.weight.; resuming from the previous checkpoint "
                                         ".*checkpoint.prev.pt .step 3., the steps after it are trained "
                                         "again; the damaged file is kept as .*checkpoint.pt.damaged"):
        resumed = run(tmp_path)
    assert_same(resumed, reference)
    assert torch.load(previous_checkpoint(latest), weights_only=True)["step"] == 5  # not the damaged file


def test_a_missing_latest_checkpoint_resumes_from_the_previous_one(tmp_path, reference):
    run(tmp_path, stop_after=4)
    (tmp_path / "checkpoint.pt").unlink()  # as a kill between two renames can leave it
    with pytest.warns(UserWarning, match="it is missing.*step 3"):
        assert_same(run(tmp_path), reference)


def test_when_both_checkpoints_are_damaged_the_error_says_what_to_do(tmp_path):
    run(tmp_path, stop_after=3)
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    previous = previous_checkpoint(tmp_path / "checkpoint.pt")
    flip_a_bit_of(previous, torch.load(previous, weights_only=True)["model"]["out.weight"])
    with pytest.raises(ValueError, match="checkpoint.pt is corrupt or not a minidistil checkpoint .torch.load "
                                         "fails with .*; the previous checkpoint .* is damaged too "
                                         ".checksum mismatch.*; delete it to start from scratch"):
        run(tmp_path)


class FullDisk(io.RawIOBase):
    """A file that takes 4 kB, then fails as a full disk does."""

    def __init__(self, f):
        self.f, self.written = f, 0

    def writable(self):
        return True

    def write(self, data):
        if self.written + len(data) > 4096:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.written += len(data)
        return self.f.write(data)


def test_a_full_disk_says_so_removes_the_temporary_file_and_keeps_the_last_checkpoint(tmp_path, reference,
                                                                                        monkeypatch):
    run(tmp_path, stop_after=2)
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda state, f: real_save(state, FullDisk(f)))
    with pytest.raises(CheckpointWriteError, match=r"^the disk holding .* is full, so the checkpoint of step 3 "
                                                   r"\(about \d+ kB\) was not written and the last one written, "
                                                   r".*checkpoint.pt, is left as it was; free some space and run "
                                                   r"the same command again to resume$") as error:
        run(tmp_path)
    assert error.value.errno == errno.ENOSPC and "\n" not in str(error.value)
    # No .tmp is left; the checkpoint before the last made room for the new one.
    assert [p.name for p in tmp_path.glob("checkpoint*")] == ["checkpoint.pt"]
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 2

    monkeypatch.undo()  # space was freed: the same command resumes, and the result is as if nothing happened
    assert_same(run(tmp_path), reference)


def test_delete_checkpoint_removes_everything_kept_beside_the_checkpoint(tmp_path):
    run(tmp_path, stop_after=2)
    (tmp_path / "checkpoint.pt.tmp").write_bytes(b"half")
    (tmp_path / "checkpoint.pt.damaged").write_bytes(b"set aside")
    delete_checkpoint(tmp_path / "checkpoint.pt")
    assert not list(tmp_path.glob("checkpoint*"))
