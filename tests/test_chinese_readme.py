"""README.zh-CN.md stays in step with README.md: its commands are the English README's commands,
its examples exist, and the English README's two commands are there."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commands(path: Path) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def test_the_chinese_readme_uses_the_english_readmes_commands_and_existing_examples():
    zh, en = commands(ROOT / "README.zh-CN.md"), "\n".join(commands(ROOT / "README.md"))
    assert "make demo" in zh and "make test" in zh
    for line in zh:
        if line.startswith(("make ", "python -m minidistil ")) and "--language" not in line:
            assert line in en, f"README.zh-CN.md runs {line!r}, which README.md does not"
        for script in re.findall(r"examples/\S+\.py", line):
            assert (ROOT / script).is_file(), f"README.zh-CN.md names {script}, which does not exist"


def test_the_chinese_readmes_measured_figures_are_the_ones_results_md_reports():
    """Every figure in a table of README.zh-CN.md (a perplexity, an accuracy, a BLEU) is written in
    RESULTS.md too, so that the two languages cannot drift apart."""
    results = (ROOT / "RESULTS.md").read_text(encoding="utf-8")
    rows = [line for line in (ROOT / "README.zh-CN.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("|") and not set(line) <= set("|-: ")]
    figures = {f for line in rows for f in re.findall(r"\d+\.\d+", line)}
    assert figures, "README.zh-CN.md has no result tables"
    missing = sorted(f for f in figures if f not in results)
    assert not missing, f"README.zh-CN.md reports {missing}, which RESULTS.md does not"
