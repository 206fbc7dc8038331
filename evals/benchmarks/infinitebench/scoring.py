"""Every InfiniteBench task's score of one prediction, as src/compute_scores.py computes it
(OpenBMB/InfiniteBench at 88b3daa; our own code, the rules stated per function with their lines).

`score(task, prediction, label)` returns a float in [0, 1]; the label is what get_answer gives
(a string, a number, or a list, exactly as the released record holds it: several scorers look at
its type). Predictions are scored as decoded, not stripped, as the official runs stored them.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

from evals.benchmarks.common.metrics import normalize_answer, normalize_zh_answer, token_f1

_DIGIT_RUNS = re.compile(r"[^0-9]")
_FIRST_NUMBER = re.compile(r"\d+\.\d+|\d+")


def _blank(text: str, chars) -> str:
    for char in chars:
        text = text.replace(char, " ")
    return text


def _squeeze(text: str) -> str:
    """Runs of spaces to one (the official `while "  " in pred` loop)."""
    while "  " in text:
        text = text.replace("  ", " ")
    return text


def _first(label: Any) -> Any:
    return label[0] if isinstance(label, list) else label


def first_digit_run(prediction: str) -> str:
    """The first run of ASCII digits ("" when none): first_int_match, lines 122-129."""
    return next((part for part in _DIGIT_RUNS.split(prediction) if part), "")


def retrieval_exact(prediction: str, label: Any) -> float:
    """passkey, number_string (146-155): the first digit run equals the label (a string), so
    "071432" is not "71432" and the key's leading zeros count."""
    return float(first_digit_run(prediction) == _first(label))


def kv_retrieval(prediction: str, label: Any) -> float:
    """kv_retrieval (139-143): newline, colon, quotes, . , ? ! and braces become spaces; the value
    must be one of the whitespace-separated words (a list label never matches: the released
    labels are strings)."""
    return float(label in _blank(prediction, "\n:\"'.,?!{}").split())


def code_run(prediction: str, label: Any) -> float:
    """code_run (158-174): after stripping, newline . ` ' " : become spaces; the last word read as
    an integer (Python's int(): "+3" and "1_0" are numbers) must equal the label (an int)."""
    words = _blank(prediction.strip(), "\n.`'\":").split()
    if not words:
        return 0.0
    try:
        value = int(words[-1])
    except ValueError:
        return 0.0
    return float(value == _first(label))


def code_debug(prediction: str, label: Any) -> float:
    """code_debug (177-212), label [function name, letter]: right when the stripped prediction
    opens with "<letter>." or "<letter>:". Otherwise newline ` ' " - * "Option" "option" become
    spaces, space runs shrink to one, and the first of "answer is:", "is:", "answer:", "correct
    option is:" found decides: the text one character after it must start with the letter or the
    function name. No phrase found, or the text ending there: wrong (a bare "B" is wrong)."""
    prediction = prediction.strip()
    name, letter = label[0], label[1]
    if prediction[:2] in (f"{letter}.", f"{letter}:"):
        return 1.0
    prediction = _squeeze(_blank(prediction, ["\n", "`", "'", '"', "-", "*", "Option", "option"]))
    for phrase in ("answer is:", "is:", "answer:", "correct option is:"):
        at = prediction.find(phrase)
        if at == -1:
            continue
        rest = prediction[at + len(phrase) + 1:]
        if len(prediction) < at + len(phrase) + 1:
            return 0.0
        return float(rest.startswith(letter) or rest.startswith(name))
    return 0.0


def math_find(prediction: str, label: Any) -> float:
    """math_find (215-234): the first number (digits, or digits.digits; no sign) must equal the
    label: as an int for an int label, as a float for a float label. An int label met by a
    decimal ("94.5") scores 0 (the official int() raises there and stops the scoring run)."""
    label = _first(label)
    if isinstance(label, bool) or not isinstance(label, (int, float)):
        raise TypeError(f"math_find label must be an int or a float, got {type(label).__name__}: {label!r}")
    found = _FIRST_NUMBER.search(prediction)
    if found is None:
        return 0.0
    text = found.group(0)
    if isinstance(label, int):
        return float(text.isdigit() and int(text) == label)
    return float(float(text) == label)


def longdialogue(prediction: str, label: Any) -> float:
    """longdialogue_qa_eng (237-244): the label's first name must be one of the prediction's words,
    upper-cased after newline, colon, quotes, . , ? ! and braces become spaces (the label itself is
    not upper-cased: the released first names are)."""
    words = [word.upper() for word in _blank(prediction.strip(), "\n:\"'.,?!{}").split()]
    return float(label[0] in words)


def longbook_choice(prediction: str, label: Any) -> float:
    """longbook_choice_eng (247-285), label [option text, letter]. On the stripped prediction, in
    order: empty is wrong; a first character among A-D decides (it must be in the label); the whole
    prediction equal to the text or the letter is right; then newline, quotes, . , ? ! and braces
    become spaces, space runs one space, and the first of "answer is:", "answer:", "answer is",
    "option is" found decides (the text one character after it starts with the text or the
    letter); last, the first word that is a substring of "ABCD" ("A", "BC", ...) must be in the label."""
    prediction = prediction.strip()
    if not prediction:
        return 0.0
    if prediction[0] in "ABCD":
        return float(prediction[0] in label)
    if prediction in label:
        return 1.0
    prediction = _squeeze(_blank(prediction, "\n\"'.,?!{}"))
    for phrase in ("answer is:", "answer:", "answer is", "option is"):
        at = prediction.find(phrase)
        if at == -1:
            continue
        if len(prediction) < at + len(phrase) + 1:
            return 0.0
        rest = prediction[at + len(phrase) + 1:]
        return float(any(rest.startswith(s) for s in label))
    for word in prediction.split():
        if word in "ABCD":
            return float(word in label)
    return 0.0


def qa_f1(prediction: str, label: Any) -> float:
    """longbook_qa_eng (63-79, 288-289): SQuAD token F1 after normalisation, best over the labels."""
    labels = label if isinstance(label, list) else [label]
    words = normalize_answer(prediction).split()
    return max((token_f1(words, normalize_answer(truth).split()) for truth in labels), default=0.0)


def char_f1_zh(prediction: str, label: Any) -> float:
    """longbook_qa_chn (82-101, 302-303): F1 over characters (not jieba words, unlike LongBench)
    after lower-casing and dropping English and Chinese punctuation and all whitespace, best over
    the labels."""
    labels = label if isinstance(label, list) else [label]
    chars = list(normalize_zh_answer(prediction))
    return max((token_f1(chars, list(normalize_zh_answer(truth))) for truth in labels), default=0.0)


@lru_cache(maxsize=1)
def _rouge_lsum():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=False)


def rouge_lsum(prediction: str, label: Any) -> float:
    """longbook_sum_eng (292-299): the F-measure of rougeLsum from Hugging Face `evaluate`'s
    "rouge" (rouge_score, no stemmer, sentences split at newlines); a list of references takes
    the best (evaluate's score_multi), one string is scored alone."""
    scorer = _rouge_lsum()
    if isinstance(label, list):
        return scorer.score_multi(label, prediction)["rougeLsum"].fmeasure
    return scorer.score(label, prediction)["rougeLsum"].fmeasure


def math_calc(prediction: str, label: Any) -> float:
    """math_calc (306-330): the prediction's digit runs, as integers (signs are lost), against the
    label's values in order: the share of the label matched before the first mismatch (a nested
    label [[...]] is unwrapped). compute_scores.py drops GPT-4's first number; no model here is GPT-4."""
    if not isinstance(label, list):
        raise TypeError(f"math_calc label must be a list, got {type(label).__name__}")
    if label and isinstance(label[0], list):
        label = label[0]
    numbers = [int(part) for part in _DIGIT_RUNS.split(prediction) if part]
    matched = 0
    for want, got in zip(label, numbers):
        if want != got:
            break
        matched += 1
    return matched / len(label)


# task -> scorer (get_score_one's table, lines 340-360)
SCORERS: dict[str, Callable[[str, Any], float]] = {
    "passkey": retrieval_exact,
    "number_string": retrieval_exact,
    "kv_retrieval": kv_retrieval,
    "code_run": code_run,
    "code_debug": code_debug,
    "longdialogue_qa_eng": longdialogue,
    "longbook_qa_eng": qa_f1,
    "longbook_sum_eng": rouge_lsum,
    "longbook_choice_eng": longbook_choice,
    "longbook_qa_chn": char_f1_zh,
    "math_find": math_find,
    "math_calc": math_calc,
}


def score(task: str, prediction: str, label: Any) -> float:
    if task not in SCORERS:
        raise ValueError(f"Unknown InfiniteBench task {task!r}. Valid: {', '.join(SCORERS)}")
    return float(SCORERS[task](prediction, label))
