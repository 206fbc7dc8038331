"""The core stands alone: `import lampe` pulls in no harness module and no harness-only package,
and inside the core the attention engine does not import the methods built on it."""
from __future__ import annotations

import json
import subprocess
import sys

HARNESS = ("evals", "hydra", "omegaconf", "pandas", "wandb", "lm_eval", "datasets", "jieba", "rouge_score",
           "matplotlib", "fuzzywuzzy", "wonderwords", "tabulate")


def imported_after(code: str) -> list[str]:
    """Top-level module names in sys.modules after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_core_imports_no_harness():
    modules = imported_after("import lampe, lampe.extension; lampe.available_methods()")
    leaked = sorted({m.split(".")[0] for m in modules} & set(HARNESS))
    assert not leaked, f"import lampe pulled in harness modules: {leaked}"


def imports_in(folder: str) -> dict[str, set[str]]:
    """file -> the lampe/evals modules it imports (static: `import lampe` runs the package's
    __init__, so a runtime probe cannot tell which submodule pulled what)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    pattern = re.compile(r"^\s*(?:from|import)\s+((?:lampe|evals)[\w.]*)", re.M)
    return {str(path.relative_to(root)): set(pattern.findall(path.read_text()))
            for path in (root / folder).rglob("*.py")}


def test_attention_does_not_import_methods():
    wrong = {f: names for f, names in imports_in("lampe/attention").items()
             if any(n.startswith("lampe.methods") for n in names)}
    assert not wrong, wrong


def test_core_files_never_import_the_harness():
    wrong = {f: names for f, names in imports_in("lampe").items() if any(n.startswith("evals") for n in names)}
    assert not wrong, wrong


def test_harness_uses_only_the_public_core_api():
    """evals/ imports `lampe` and `lampe.extension` only, never the core's internals."""
    private = {f: names - {"lampe", "lampe.extension"} for f, names in imports_in("evals").items()}
    private = {f: sorted(n for n in names if n.startswith("lampe")) for f, names in private.items()}
    assert not any(private.values()), {f: n for f, n in private.items() if n}
