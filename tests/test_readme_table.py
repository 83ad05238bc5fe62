"""The README's tables match the code: every layer folder and module is in the file table, every listed
path exists, and the command table lists exactly the CLI's commands."""
import argparse
import re
from pathlib import Path

from minidistil.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(title)
    return README[start:README.index("\n## ", start + 1)]


def table_rows(title: str):
    return [line for line in section(title).splitlines() if line.startswith("| `")]


def test_every_folder_and_module_is_in_the_file_table():
    rows = table_rows("## The package, one folder per layer")
    listed = {row.split(" | ")[0].strip("| `") for row in rows}
    text = " ".join(rows)
    for folder in sorted(p for p in (ROOT / "minidistil").iterdir() if p.is_dir() and p.name != "__pycache__"):
        assert f"minidistil/{folder.name}/" in listed, folder.name
        if folder.name in ("cli",):
            continue
        for module in folder.glob("*.py"):
            if module.name != "__init__.py":
                assert f"`{module.name}`" in text, f"{folder.name}/{module.name}"


def test_every_path_in_the_file_table_exists():
    for row in table_rows("## The package, one folder per layer"):
        first = row.split(" | ")[0]
        for name in re.findall(r"`([^`]+)`", first):
            assert (ROOT / name).exists(), name


def test_the_command_table_lists_every_command_of_the_cli():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    listed = [row.split(" | ")[0].strip("| `") for row in table_rows("## Commands")]
    assert listed == list(sub.choices)
