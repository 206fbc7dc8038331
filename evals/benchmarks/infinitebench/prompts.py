"""A released (or generated) InfiniteBench record -> its prompt text and its answer, by the rules of
src/eval_utils.py's create_prompt (lines 102-226) and get_answer (229-245), stated here:

- code_run: the first `func_<digits>(<optional minus><digits>)` in the record's `input` is the call;
  the function name is the part before "("; the template gets both and the context;
- code_debug and longbook_choice_eng: the four `options` fill OPTION_A..D (longbook_choice_eng's
  `input` is the question); the answer is [option text, its letter]: a text answer (or a list of one)
  gets the letter of its place among the options, a pair [text, letter] stays as it is;
- longbook_qa_eng / longbook_qa_chn: `input` is the question; longbook_sum_eng and math_calc use the
  context alone (math_calc's `input` is not sent); longdialogue_qa_eng the context alone;
- math_find: the greedy match of "The .+ of" in `input`, lower-cased, without its last three
  characters (" of"), names the target ("the largest number"); the prompt opens with
  "What is <target> in the following list?", then the context and the `input`;
- every other task (passkey, number_string, kv_retrieval): the context and the `input`.
The template is filled with str.format, so braces in the record's own text are left alone.
"""
from __future__ import annotations

import json
import re
from typing import Any

from evals.benchmarks.infinitebench.tasks import TASKS

OPTION_LETTERS = "ABCD"
_CALL = re.compile(r"func_[0-9]+\(\-?[0-9]+\)")
_TARGET = re.compile(r"The .+ of")


def _where(row: dict) -> str:
    return row.get("_where", "record")


def _need(row: dict, *fields: str) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        raise ValueError(f"{_where(row)}: InfiniteBench record lacks field(s) {', '.join(missing)}")


def _options(row: dict) -> dict[str, str]:
    _need(row, "options")
    options = row["options"]
    if not isinstance(options, list) or len(options) < 4:
        raise ValueError(f"{_where(row)}: 'options' must list four options, got {options!r}")
    return {f"OPTION_{letter}": options[i] for i, letter in enumerate(OPTION_LETTERS)}


def _code_run(row: dict) -> dict[str, Any]:
    calls = _CALL.findall(row["input"])
    if not calls:
        raise ValueError(f"{_where(row)}: code_run input names no call func_N(x): {row['input'][:80]!r}")
    return {"func": calls[0].split("(")[0], "func_call": calls[0]}


def _math_find(row: dict) -> dict[str, Any]:
    found = _TARGET.findall(row["input"])
    if not found:
        raise ValueError(f"{_where(row)}: math_find input has no 'The ... of': {row['input'][:80]!r}")
    return {"prefix": f"What is {found[0].lower()[:-3]} in the following list?", "input": row["input"]}


# task -> the template fields besides `context`, from the record
_FIELDS = {
    "code_run": _code_run,
    "code_debug": _options,
    "longbook_choice_eng": lambda row: {"question": row["input"], **_options(row)},
    "longbook_qa_eng": lambda row: {"question": row["input"]},
    "longbook_qa_chn": lambda row: {"question": row["input"]},
    "longbook_sum_eng": lambda row: {},
    "longdialogue_qa_eng": lambda row: {},
    "math_calc": lambda row: {},
    "math_find": _math_find,
}


def fields(task: str, row: dict) -> dict[str, Any]:
    """The values the task's template is filled with."""
    _need(row, "context", "input")
    return {"context": row["context"], **_FIELDS.get(task, lambda r: {"input": r["input"]})(row)}


def prompt_parts(task: str, row: dict) -> tuple[str, str]:
    """(whole prompt, its cue): the template filled with the record; the cue is the filled tail
    that opens the answer (empty for tasks whose question ends the template)."""
    spec = TASKS[task]
    values = fields(task, row)
    text = spec.template.format(**values)
    cue = spec.cue.format(**values)
    assert text.endswith(cue), (task, cue)
    return text, cue


def answer(task: str, row: dict) -> Any:
    """The label compute_scores.py scores against (get_answer): the record's answer, except that
    the two multiple-choice tasks get [option text, letter]."""
    _need(row, "answer")
    value = row["answer"]
    if task not in ("code_debug", "longbook_choice_eng"):
        return value
    options = _options(row)
    texts = [options[f"OPTION_{letter}"] for letter in OPTION_LETTERS]
    if isinstance(value, list) and len(value) == 2 and value[1] in OPTION_LETTERS:
        return list(value)
    text = value[0] if isinstance(value, list) and len(value) == 1 else value
    if not isinstance(text, str) or text not in texts:
        raise ValueError(f"{_where(row)}: {task} answer {value!r} is not one of the options {texts}")
    return [text, OPTION_LETTERS[texts.index(text)]]


def references(label: Any) -> list[str]:
    """The label as the list of strings a record shows (scoring uses the label itself): a string,
    or a list of strings, as it is; anything else (numbers, math_calc's value list) as JSON."""
    if isinstance(label, str):
        return [label]
    if isinstance(label, list) and label and all(isinstance(x, str) for x in label):
        return list(label)
    return [json.dumps(label, ensure_ascii=False)]
