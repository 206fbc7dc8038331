"""evals/ is three rooms on a floor, and its imports run one way: files <- benchmarks <- report <- run.

Read from the source (every import statement, those inside functions included), so a cycle
cannot hide behind a function-local import; and evals' own modules are never imported inside a
function. The old import paths at the top of evals/ (base.py, registry.py, ...) only re-export.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# room -> rooms it may import (the floor, files/, imports no room)
ALLOWED = {"files": set(), "benchmarks": {"files"}, "report": {"files", "benchmarks"},
           "run": {"files", "benchmarks", "report"}}
# third-party packages imported inside a function on purpose: optional or only needed on one path
LAZY_OK = {"wandb", "datasets", "pyarrow", "huggingface_hub", "rouge_score", "fuzzywuzzy", "jieba", "scipy",
           "lm_eval"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / "evals").rglob("*.py"))}


KNOWN = modules()


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, inside a function) for every import statement of a file."""
    found = []

    def visit(node, local):
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, inner) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                # `from package import module` imports that module; `from module import name`, the module
                submodules = [f"{child.module}.{a.name}" for a in child.names if f"{child.module}.{a.name}" in KNOWN]
                found.extend((m, inner) for m in submodules or [child.module])
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return found


def graph() -> dict[str, set[str]]:
    """module -> the evals modules it imports (a name imported from a module counts as the module)."""
    edges = {}
    for name, path in KNOWN.items():
        edges[name] = {target for target, _ in imports(path) if target in KNOWN and target != name}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def walk(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = walk(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = walk(node)
            if cycle:
                return cycle
    return None


def room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in ALLOWED else None


def test_the_import_graph_of_evals_has_no_cycle():
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()))


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_each_room_imports_only_the_rooms_before_it():
    wrong = []
    for module, targets in graph().items():
        mine = room(module)
        for target in targets:
            theirs = room(target)
            if mine and theirs and theirs != mine and theirs not in ALLOWED[mine]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, wrong


def test_only_optional_packages_are_imported_inside_a_function():
    hidden = [f"{name}: {target}" for name, path in KNOWN.items() for target, local in imports(path)
              if local and target.split(".")[0] not in LAZY_OK]
    assert not hidden, hidden


def test_the_top_of_evals_holds_only_the_doors_and_old_paths():
    """evals/ itself: the package, `python -m evals`, and the old paths kept as re-exports."""
    top = sorted(p.name for p in (ROOT / "evals").glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "base.py", "cli.py", "held_out.py", "lm_eval_cli.py",
                   "lm_eval_model.py", "registry.py", "study.py"]
    for name in top[2:]:
        assert len((ROOT / "evals" / name).read_text().splitlines()) <= 10, name
