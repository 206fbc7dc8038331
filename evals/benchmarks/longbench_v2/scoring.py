"""LongBench v2's answer extraction (pred.py) and its result table (result.py), THUDM/LongBench at 2e00731.

Extraction (pred.py:58-68): every "*" is removed from the reply; the answer is the letter of the
first "The correct answer is (X)" (X in A-D), else of the first "The correct answer is X", else
none. A question is right when the extracted letter equals the record's answer (pred.py:110).

The table (result.py): accuracy x100 over all questions (Overall), by difficulty (Easy: the
records marked "easy"; Hard: every other) and by length (Short: "short", Medium: "medium", Long:
every other), each printed rounded to one decimal. With `compensated` a question without an
extracted answer counts 0.25 (a guess among four) instead of 0 (result.py's flag, off there).
"""
from __future__ import annotations

import re
from typing import Iterable

ANSWER_PATTERNS = (re.compile(r"The correct answer is \(([A-D])\)"), re.compile(r"The correct answer is ([A-D])"))
COLUMNS = ("Overall", "Easy", "Hard", "Short", "Medium", "Long")
LENGTH_COLUMNS = {"short": "Short", "medium": "Medium"}  # any other length: Long
GUESS = 0.25


def extract_answer(response: str) -> str | None:
    """The answer letter in a reply, or None (pred.py's extract_answer)."""
    text = response.replace("*", "")
    for pattern in ANSWER_PATTERNS:
        found = pattern.search(text)
        if found:
            return found.group(1)
    return None


def question_score(pred: str | None, answer: str, compensated: bool = False) -> float:
    """1 if right, 0 if wrong; with `compensated` 0.25 when nothing was extracted."""
    if pred is None and compensated:
        return GUESS
    return float(pred == answer)


def columns_of(difficulty: str, length: str) -> tuple[str, ...]:
    """The result.py columns a question counts in."""
    return "Overall", "Easy" if difficulty == "easy" else "Hard", LENGTH_COLUMNS.get(length, "Long")


def breakdown(items: Iterable[dict], compensated: bool = False) -> tuple[dict[str, float | None], dict[str, int]]:
    """(column -> accuracy x100, column -> questions) over result.py-style items (keys judge, pred,
    difficulty, length); a column without questions is None (result.py divides by zero there)."""
    sums = dict.fromkeys(COLUMNS, 0.0)
    counts = dict.fromkeys(COLUMNS, 0)
    for item in items:
        score = GUESS if compensated and item["pred"] is None else float(bool(item["judge"]))
        for column in columns_of(item["difficulty"], item["length"]):
            sums[column] += score
            counts[column] += 1
    return {c: 100 * sums[c] / counts[c] if counts[c] else None for c in COLUMNS}, counts


def result_table(runs: dict[str, Iterable[dict]], compensated: bool = False) -> str:
    """result.py's result.txt: a header, then one tab-separated row per run (name -> items), each
    accuracy rounded to one decimal ("-" where a column has no question)."""
    lines = ["Model\t" + "\t".join(COLUMNS)]
    for name, items in runs.items():
        values, _ = breakdown(items, compensated)
        lines.append("\t".join([name] + ["-" if v is None else str(round(v, 1)) for v in values.values()]))
    return "\n".join(lines)
