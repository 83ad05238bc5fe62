"""What every command checks before it works, and how it prints: paths first, then a small table."""
from __future__ import annotations

import os
from pathlib import Path


def check_output_folder(out) -> None:
    """Refuse an output folder that cannot be written, before any work is done: a path under a
    regular file, or under a folder this user may not write to."""
    out = Path(out)
    for folder in (out, *out.parents):
        if not folder.exists():
            continue
        if not folder.is_dir():
            raise ValueError(f"--out {out} cannot be created: {folder} is a file, not a folder; choose another --out")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ValueError(f"--out {out} cannot be written: the folder {folder} is read-only for you; "
                             f"choose another --out")
        return


def check_input_files(paths) -> None:
    """Every input must be a file: say which one is missing or a folder before anything is written."""
    for path in map(Path, paths):
        if path.is_dir():
            raise ValueError(f"--input {path} is a folder; pass the .txt, .csv or .jsonl files in it")
        if not path.is_file():
            raise ValueError(f"--input {path} does not exist; pass .txt, .csv or .jsonl files")


def check_device(name: str) -> None:
    """A --device that torch knows and this machine has, or one sentence saying what to pass."""
    import torch
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name!r} is not a device; pass cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name} asks for a GPU, but torch sees none here (a CPU build of torch, or no "
                         f"driver); pass --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: the recipe runs on cpu or cuda")


def table(rows: dict) -> str:
    """Two aligned columns: name, value."""
    width = max(len(str(k)) for k in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows.items())


def end_progress_bars() -> None:
    """Close the progress bars still open when a command fails, so that its one-line error starts on
    a line of its own instead of after a half-drawn bar."""
    try:
        from tqdm import tqdm
    except ImportError:
        return
    for bar in list(getattr(tqdm, "_instances", ())):
        try:
            bar.close()
        except Exception:  # a bar of another thread, half torn down: the message matters more
            pass
