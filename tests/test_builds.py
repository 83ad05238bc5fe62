"""Cached builds a user can trust: one builder per entry, a manifest written last, bounded disk."""
import errno
import fcntl
import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from minidistil.utils import builds

RACER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from minidistil.utils import builds
    root = Path(sys.argv[1])

    def say(message):  # the waiter says so just before it blocks on the lock: a file the holder sees
        print(message, file=sys.stderr, flush=True)
        if "waiting for the build" in message:
            (root.parent / f"waiting-{os.getpid()}").touch()

    with builds.entry(root, message=say) as work:
        if work is not None:
            with open(root.parent / "builders.txt", "a") as f:
                f.write(f"{os.getpid()}\\n")
            # Hold the lock until the other process is waiting for it (an event, not a guessed delay);
            # the deadline only bounds a broken run.
            deadline = time.time() + 120
            while not list(root.parent.glob("waiting-*")) and time.time() < deadline:
                time.sleep(0.02)
            (work / "model.bin").write_bytes(b"x" * 1000)
            (work / "checkpoint.pt").write_bytes(b"resume point")
    print((root / "model.bin").stat().st_size)
""")


def tiny_build(root, files=None, keep_checkpoints=False):
    files = files or {"model/config.json": b"{}", "model/model.safetensors": b"w" * 1000, "report.json": b"{}"}
    with builds.entry(root, keep_checkpoints=keep_checkpoints, message=lambda m: None) as work:
        for name, data in {**files, "checkpoint.pt": b"c" * 10}.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_bytes(data)
    return root


def test_two_processes_racing_for_one_entry_build_it_once(tmp_path):
    root = tmp_path / "entry"
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(root)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o[0].strip() for o in outs] == ["1000", "1000"]
    assert len((tmp_path / "builders.txt").read_text().split()) == 1  # trained once, not twice
    assert sum("waiting for the build" in err and "started by pid" in err for _, err in outs) == 1
    assert builds.finished(root) and not (root / "checkpoint.pt").exists()
    assert not builds.lock_path(root).exists() and not builds.partial_dir(root).exists()


def test_a_caller_arriving_before_the_holder_wrote_its_record_still_names_it(tmp_path):
    # The holder takes the lock, then writes who it is: a caller in between must not say "another process".
    path = builds.lock_path(tmp_path / "entry")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    record = json.dumps({"pid": 4242, "host": "there", "started": "2026-01-01 00:00:00"}).encode()
    late = threading.Timer(0.2, lambda: os.pwrite(fd, record, 0))
    late.start()
    try:
        with pytest.raises(builds.BuildLockedError, match="being built by pid 4242 on there at 2026-01-01"):
            with builds.lock(path, no_wait=True):
                pass
    finally:
        late.join()
        os.close(fd)


def test_with_no_wait_a_locked_entry_is_one_sentence(tmp_path):
    root = tmp_path / "entry"
    with builds.entry(root, message=lambda m: None):
        with pytest.raises(builds.BuildLockedError, match=rf"being built by pid {os.getpid()} on .*--no-wait"):
            with builds.entry(root, no_wait=True):
                pass


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_message(tmp_path):
    root = tmp_path / "entry"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    builds.lock_path(root).write_text(json.dumps({"pid": pid, "host": "here", "started": "2026-01-01 00:00:00"}))
    said = []
    with builds.entry(root, message=said.append) as work:
        (work / "a").write_text("a")
    assert said == [f"the build of {root} started by pid {pid} on here at 2026-01-01 00:00:00 is no longer "
                    f"running; taking it over"]
    assert builds.finished(root)


def test_the_manifest_lists_every_file_with_size_and_hash_and_checkpoints_go(tmp_path):
    root = tiny_build(tmp_path / "entry")
    manifest = json.loads((root / "manifest.json").read_text())["files"]
    assert sorted(manifest) == ["model/config.json", "model/model.safetensors", "report.json"]
    assert manifest["model/model.safetensors"]["size"] == 1000
    assert manifest["report.json"]["sha256"] == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    kept = tiny_build(tmp_path / "kept", keep_checkpoints=True)
    assert (kept / "checkpoint.pt").exists() and "checkpoint.pt" not in builds.read_manifest(kept)


def test_a_truncated_weight_file_is_one_sentence_naming_it_and_the_rebuild_command(tmp_path):
    root = tiny_build(tmp_path / "entry")
    with open(root / "model" / "model.safetensors", "r+b") as f:
        f.truncate(400)
    said = []
    assert not builds.finished(root, message=said.append)  # so the build that follows repairs it
    assert len(said) == 1 and "model.safetensors has 400 bytes" in said[0] and "building it again beside" in said[0]
    with pytest.raises(builds.DamagedEntryError) as e:
        builds.verify(root, rebuild="python -m minidistil adapt-teacher")
    message = str(e.value)
    assert "model.safetensors has 400 bytes where its manifest says 1,000" in message
    assert "`python -m minidistil adapt-teacher`" in message and "\n" not in message


def test_a_missing_file_is_named(tmp_path):
    root = tiny_build(tmp_path / "entry")
    (root / "model" / "config.json").unlink()
    with pytest.raises(builds.DamagedEntryError, match=r"config.json is missing; run `python -m minidistil cache remove"):
        builds.verify(root)


def test_a_file_of_the_right_size_but_other_bytes_fails_verify_only(tmp_path):
    root = tiny_build(tmp_path / "entry")
    (root / "model" / "model.safetensors").write_bytes(b"v" * 1000)
    assert builds.finished(root)  # sizes: every call, cheap
    with pytest.raises(builds.DamagedEntryError, match="differs from its manifest"):
        builds.verify(root)


def test_a_rebuild_of_a_damaged_entry_resumes_from_the_checkpoint_it_holds(tmp_path):
    root = tiny_build(tmp_path / "entry", keep_checkpoints=True)
    (root / "report.json").unlink()
    with builds.entry(root, message=lambda m: None) as work:
        assert work == builds.partial_dir(root)
        assert (work / "checkpoint.pt").read_bytes() == b"c" * 10  # what the loop resumes from
        assert not (work / "manifest.json").exists()
        (work / "report.json").write_text("{}")
    assert builds.finished(root) and not (root / "checkpoint.pt").exists()


def test_a_build_that_cannot_fit_is_refused_before_it_starts(tmp_path):
    with pytest.raises(builds.DiskFullError, match=r"needs about .* MiB more on the disk .* free"):
        with builds.entry(tmp_path / "entry", estimate_bytes=2 ** 62):
            pytest.fail("started")


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   RuntimeError("SafetensorError: Error while serializing: IoError(Os { code: 28, "
                                                "kind: StorageFull, message: \"No space left on device\" })"),
                                   RuntimeError("[enforce fail at inline_container.cc:595] . PytorchStreamWriter "
                                                "failed writing file data/2: file write failed")])
def test_every_write_error_of_a_build_is_the_one_sentence_disk_message(tmp_path, error):
    with pytest.raises(builds.DiskFullError) as e:
        with builds.entry(tmp_path / "entry", estimate_bytes=1000):
            raise error
    assert str(e.value).startswith("the disk holding") and "resumes from its last checkpoint" in str(e.value)
    assert not builds.lock_path(tmp_path / "entry").exists()


def test_an_interrupted_build_releases_its_lock_and_keeps_its_work(tmp_path):
    root = tmp_path / "entry"
    with pytest.raises(KeyboardInterrupt):
        with builds.entry(root) as work:
            (work / "checkpoint.pt").write_text("step 5")
            raise KeyboardInterrupt
    assert not builds.lock_path(root).exists() and not root.exists()
    assert (builds.partial_dir(root) / "checkpoint.pt").read_text() == "step 5"


def test_ctrl_c_during_a_teacher_build_is_one_line_and_the_rerun_resumes(tmp_path, vocab_file):
    # A tiny adapt-teacher build (the probe, smaller): SIGINT after its first checkpoint.
    from minidistil.cli import main
    from minidistil.data import sources
    text = tmp_path / "hamlet.txt"
    text.write_text("\n".join(sources.hamlet().splitlines()[:300]))
    assert main(["prepare-data", "--input", str(text), "--vocab", str(vocab_file), "--out", str(tmp_path / "corpus"),
                 "--max-length", "32", "--min-tokens", "8"]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = tmp_path / "teacher"
    command = [sys.executable, "-m", "minidistil", "adapt-teacher", "--data", str(tmp_path / "corpus"), "--out",
               str(out), "--max-steps", "60", "--batch-size", "4", "--heldout-chunks", "4", "--no-progress"]
    # SIGINT, as Ctrl-C sends, just after the checkpoint of step 50 (minidistil.utils.interrupts): a signal
    # sent after watching for the file raced the 10 remaining steps on a fast machine.
    proc = subprocess.run(command, env={**env, "MINIDISTIL_SIGINT_AT": "checkpoint:50"}, capture_output=True,
                          text=True, timeout=300)
    err = proc.stderr
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("minidistil: interrupted at step ") and "run the same command to resume from step 50" in last
    assert "Traceback" not in err and not builds.lock_path(out).exists()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 60  # appended by the holder only, never truncated
    assert builds.finished(out) and not (out / "checkpoint.pt").exists()


def test_a_cached_model_that_fails_to_load_names_the_damaged_file(tmp_path):
    from minidistil import DistilBertConfig, DistilBertModel
    from minidistil.nn.checkpoint import CheckpointError
    root = tmp_path / "entry"
    with builds.entry(root, rebuild="python -m minidistil adapt-teacher", message=lambda m: None) as work:
        DistilBertModel(DistilBertConfig(dim=8, n_heads=2, hidden_dim=12, n_layers=1)).save_pretrained(work / "model")
    weights = root / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-50])
    with pytest.raises(CheckpointError, match=r"model.safetensors has \d[\d,]* bytes where its manifest says .*"
                                              r"run `python -m minidistil adapt-teacher`"):
        DistilBertModel.from_pretrained(root / "model")
