"""The package's folders are its layers: each module imports only from its own floor or the ones below.

The floors, bottom to top, are FLOORS; `minidistil/__init__.py` (the package's face), `__main__.py`
and `_moved.py` (the table of old import paths) stand outside them. Imports inside functions count
too: a lazy import from a higher floor is still a dependency on it.
"""
import ast
import importlib
import warnings
from pathlib import Path


PACKAGE = Path(__file__).resolve().parents[1] / "minidistil"
FLOORS = ["utils", "tokenizer", "nn", "data", "training", "recipes", "apps", "cli"]
OUTSIDE = {"__init__.py", "__main__.py", "_moved.py"}


def imported_modules(path: Path, module: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if path.name == "__init__.py" else 0)
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("minidistil.")}


def floor_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FLOORS else None


def test_ls_shows_the_layers_and_no_flat_modules_are_left():
    flat = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in OUTSIDE)
    assert flat == [], f"modules outside the layer folders: {flat}"
    assert set(FLOORS) <= {p.name for p in PACKAGE.iterdir() if p.is_dir()}


def test_no_module_imports_from_a_floor_above_its_own():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1:
            continue
        module = ".".join(("minidistil", *rel.with_suffix("").parts)).removesuffix(".__init__")
        mine = FLOORS.index(rel.parts[0])
        for name in imported_modules(path, module):
            floor = floor_of(name)
            if name == "minidistil" or floor is None:
                if name != "minidistil._moved":
                    upward.append(f"{module} imports {name} (outside the floors)")
            elif FLOORS.index(floor) > mine:
                upward.append(f"{module} ({rel.parts[0]}) imports {name} ({floor})")
    assert upward == []


def test_no_import_circles():
    """No module reaches itself through imports (the same reading as ../shared/tools/import_cycles.py)."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(("minidistil", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        graph[module] = set()
        for name in imported_modules(path, module):
            graph[module].add(name)
    graph = {m: {d for d in deps if d in graph and d != m and d != "minidistil"} for m, deps in graph.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m, path):
        state[m] = 1
        for d in graph[m]:
            if state.get(d) == 1:
                raise AssertionError(f"import circle: {' -> '.join(path[path.index(d):] + [d])}")
            if d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])




def test_a_name_that_moved_out_of_a_module_is_found_at_its_new_home():
    from minidistil import _moved
    from minidistil.recipes import pretrained
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sources = importlib.import_module("minidistil.sources")
    assert sources.mlm_teacher_dir is pretrained.teacher_dir
    assert sources.fetch is importlib.import_module("minidistil.data.sources").fetch
    assert set(_moved.MODULES.values()) <= {*_all_modules()}


def _all_modules():
    for path in PACKAGE.rglob("*.py"):
        yield ".".join(("minidistil", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
