"""LongBench v2's prompts, filled and cut as pred.py does (THUDM/LongBench at 2e00731).

Filling (pred.py:93, 103): the template's placeholders are replaced one after the other, in the
order $DOC$, $Q$, $C_A$, $C_B$, $C_C$, $C_D$ (then $COT$ in the CoT answer prompt), each by the
record's field stripped of surrounding whitespace. Each replacement runs over the whole text so
far, so a placeholder written inside an earlier field (a document quoting "$Q$") is replaced
too; the CoT reasoning is put in last and is never searched.

Cutting (query_llm, pred.py:24-30): the prompt is tokenized with the tokenizer's own special
tokens (the BOS counts); when that is longer than max_length it keeps the first
floor(max_length / 2) and the last ceil(max_length / 2) tokens, decoded together with special
tokens skipped. The chat template is applied to the cut text afterwards (by the server).
"""
from __future__ import annotations

import json
from pathlib import Path

SPEC = json.loads(Path(__file__).with_name("spec.json").read_text(encoding="utf-8"))
TEMPLATES: dict[str, str] = SPEC["templates"]
PLACEHOLDERS: list[tuple[str, str]] = [tuple(pair) for pair in SPEC["placeholders"]]
COT = "$COT$"


def fill(template: str, record: dict) -> str:
    """`template` with the record's fields put in, in pred.py's order ($COT$ left as it is)."""
    text = template
    for placeholder, field in PLACEHOLDERS:
        text = text.replace(placeholder, record[field].strip())
    return text


def with_reasoning(answer_prompt: str, reasoning: str) -> str:
    """The CoT answer prompt (already filled) with the first call's stripped reply in it."""
    return answer_prompt.replace(COT, reasoning)


def cut_middle(text: str, tokenizer, max_length: int | None) -> str:
    """pred.py's cut: at most max_length tokens (special tokens counted), head and tail kept."""
    if max_length is None:
        return text
    ids = tokenizer(text)["input_ids"]
    if len(ids) <= max_length:
        return text
    head = max_length // 2
    kept = ids[:head] + ids[len(ids) - (max_length - head):]
    return tokenizer.decode(kept, skip_special_tokens=True)
