"""`python -m evals.lm_eval_cli ...`: lm-eval's own CLI, with `--model lampe` registered.

lm-eval 0.4.13 resolves `--model` against its internal registry only: it never reads the
`lm_eval.models` entry points that installed packages declare (lampe declares
`lampe = "evals.run.lm_eval_model:LampeLM"`). This wrapper does that one missing step, lazily
(lampe is imported only when `--model lampe` is used), then hands every argument to
`lm_eval.__main__.cli_evaluate` unchanged.
"""
from __future__ import annotations

from importlib.metadata import entry_points

GROUP = "lm_eval.models"


def register_entry_points() -> list[str]:
    """Add every installed `lm_eval.models` entry point to lm-eval's model registry, lazily."""
    import lm_eval.models  # noqa: F401  (built-ins first: get_model only fills an empty registry)
    from lm_eval.api.registry import model_registry

    added = []
    for entry in entry_points(group=GROUP):
        if entry.name not in model_registry:
            model_registry.register(entry.name, target=entry.value)  # "module:Class", imported on first use
            added.append(entry.name)
    return added


def main() -> None:
    register_entry_points()
    from lm_eval.__main__ import cli_evaluate

    cli_evaluate()


if __name__ == "__main__":
    main()
