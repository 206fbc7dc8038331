"""String-match scores of the synthetic benchmarks, per sample in [0, 1].

RULER's official metrics (scripts/eval/synthetic/constants.py) average these per-sample values
over a task and report x100: `string_match_all` (fraction of the references found in the
prediction) for the needle, tracking and word tasks, `string_match_part` (any reference found)
for QA. Matching is case-insensitive substring search, after RULER's prediction clean-up.
"""
from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f]")


def ruler_postprocess(prediction: str) -> str:
    """RULER's clean-up: strip, and turn control characters into newlines."""
    return _CONTROL.sub("\n", prediction.strip()).strip()


def string_match_all(prediction: str, references: list[str]) -> float:
    """Fraction of `references` that occur in `prediction` (case-insensitive)."""
    if not references:
        raise ValueError("string_match_all needs at least one reference")
    text = prediction.lower()
    return sum(ref.lower() in text for ref in references) / len(references)


def string_match_part(prediction: str, references: list[str]) -> float:
    """1.0 if any of `references` occurs in `prediction` (case-insensitive), else 0.0."""
    if not references:
        raise ValueError("string_match_part needs at least one reference")
    text = prediction.lower()
    return float(any(ref.lower() in text for ref in references))


def _normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def answer_match(prediction: str, answer: str) -> float:
    """1.0 if the whole answer occurs in the prediction, ignoring case, punctuation and spacing."""
    return float(_normalize(answer) in _normalize(prediction))


def keyword_recall(prediction: str, keywords: list[str]) -> float:
    """Fraction of the keywords found in the prediction (same normalisation as answer_match)."""
    if not keywords:
        raise ValueError("keyword_recall needs at least one keyword")
    text = f" {_normalize(prediction)} "
    return sum(f" {_normalize(k)} " in text for k in keywords) / len(keywords)


def rouge1_recall(prediction: str, reference: str) -> float:
    """ROUGE-1 recall of the reference by the prediction (stemmed unigrams, rouge-score package)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    return scorer.score(reference, prediction)["rouge1"].recall


_DIGITS = re.compile(r"\d+")


def passkey_match(prediction: str, passkey: str) -> float:
    """1.0 if the first number in the prediction is exactly the pass key (extra digits fail)."""
    found = _DIGITS.search(prediction)
    return float(found is not None and found.group() == str(passkey))
