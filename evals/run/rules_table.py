"""The equal-footing table: each method's published rule and the values it chooses at each length.

One row per method: the rule (`Method.length_rule`) and, per input length L, the parameters that
apply to an L-token input under the run's values (`auto` ones by the rule, `Method.published`;
shown with what they imply, `Method.effective_params`: NTK alpha, the length SelfExtend covers,
LaMPE's U, ...). The study prints it and writes it to <results_dir>/tables/rules.md.
"""
from __future__ import annotations

from pathlib import Path

from evals.run.sample_method import SampleMethod
from lampe import get_method

# what a reader needs to compare at each length; other values are constant and stated by the rule
SHOWN = ("factor", "alpha", "attention_factor", "group", "window", "covers", "chunk_size", "local_window",
         "logit_scale", "mapping_length")
LABELS = {"factor": "s", "alpha": "alpha", "attention_factor": "attn", "group": "G", "window": "W",
          "covers": "covers", "chunk_size": "chunk", "local_window": "local", "logit_scale": "scale",
          "mapping_length": "U"}


def values_at(name: str, values: dict, length: int, pretraining_length: int) -> dict:
    """The parameters that apply to an input of `length` tokens (rule applied where `auto`)."""
    method = SampleMethod(name, values, pretraining_length)
    applied = method.values_for(length) if method.auto else method.fixed
    return get_method(name).effective_params(applied, length, pretraining_length)


def _cell(found: dict) -> str:
    parts = [f"{LABELS[k]} {_number(found[k])}" for k in SHOWN if k in found and found[k] is not None]
    return ", ".join(parts) or "-"


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:g}" if value < 100 else f"{value:.0f}"
    return str(value)


def _length(n: int) -> str:
    return f"{n // 1024}k" if n % 1024 == 0 else str(n)


def rules_markdown(method_values: dict[str, dict], lengths: list[int], pretraining_length: int) -> str:
    """The table as Markdown: method, rule, how its values are set, then one column per length."""
    head = ["method", "rule", "set by"] + [_length(n) for n in lengths]
    rows = [head, ["---"] * len(head)]
    for name, values in method_values.items():
        cls = get_method(name)
        auto = [k for k, v in values.items() if v == "auto"]
        how = "rule per sample: " + ", ".join(auto) if auto else ("fixed" if cls.rule_params else "-")
        if values.get("preset"):
            how = f"preset {values['preset']}"
        cells = [_cell(values_at(name, values, n, pretraining_length)) for n in lengths]
        rows.append([name, cls.length_rule.replace("|", "/"), how, *cells])
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    note = (f"\nL = the sample's input length (prompt tokens plus its generation budget); P = {pretraining_length} "
            f"(the model's trained window). s: PI/NTK/YaRN factor; alpha: the NTK base multiplier at L (dynamic "
            f"NTK: at the current length); attn: YaRN's attention factor; G, W: SelfExtend's group and neighbour "
            f"window, covers: (P - W) G + W; chunk, local, scale: ChunkLlama's chunk, local window and logit scale "
            f"at L; U: LaMPE's mapping length at L.\n")
    return "\n".join(lines) + "\n" + note


def write_rules(path: str | Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
