"""The README's file table matches the tree: every module is listed, every listed path exists."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def table_rows():
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## The package, one line per file"):text.index("## A forward pass")]
    return [line for line in table.splitlines() if line.startswith("| `")]


def test_every_module_and_folder_is_in_the_file_table():
    listed = " ".join(row.split(" | ")[0] + " " + row.split(" | ")[1] for row in table_rows())
    for path in sorted((ROOT / "minidistil").glob("*.py")):
        if path.name not in ("__init__.py", "__main__.py"):
            assert f"`{path.name}`" in listed or f"minidistil/{path.name}`" in listed, path.name
    for folder in ("data", "tokenizer", "cli"):
        assert f"`minidistil/{folder}/`" in listed


def test_every_path_in_the_file_table_exists():
    for row in table_rows():
        first = row.split(" | ")[0]
        names = re.findall(r"`([^`]+)`", first)
        folder = Path(names[0]).parent if "/" in names[0] and not names[0].endswith("/") else None
        for name in names:
            path = ROOT / name if "/" in name or folder is None else ROOT / folder / name
            assert path.exists(), f"{name} (row {first})"
