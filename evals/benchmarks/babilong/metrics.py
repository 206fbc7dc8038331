"""BABILong's answer check (booydar/babilong at 7a6efee, babilong/metrics.py compare_answers), in our words.

The reply is lower-cased and cut at its first ".", then at "<context>" and at "<example>" (the
model starting another example). It is also cut at "Question", which after lower-casing never
occurs: the released check keeps the text after a "question", and so does this one. The task's
labels (spec.json: every answer the task can have) are then looked for as substrings: labels
that occur in the question never count, and the reply is right when the labels left in it are
exactly the target's. A target with a comma and more than three characters (qa8's "apple,milk")
is several labels, all of which must be there and nothing else; qa19's directions ("n,w") are
labels themselves. A target among no label (never in the release) is never right.
"""
from __future__ import annotations

from typing import Iterable

CUTS = (".", "<context>", "<example>", "Question")


def first_sentence(reply: str) -> str:
    """The part of the reply that is checked."""
    text = reply.lower()
    for cut in CUTS:
        text = text.split(cut)[0]
    return text


def labels_in(text: str, labels: Iterable[str]) -> set[str]:
    return {label for label in labels if label in text}


def compare_answers(target: str, reply: str, question: str, labels: Iterable[str]) -> bool:
    """True when the reply names the target's labels and no other (see the module docstring)."""
    labels = {label.lower() for label in labels}
    named = labels_in(first_sentence(reply), labels) - labels_in(question.lower(), labels)
    target = target.lower()
    if "," in target and len(target) > 3:  # several labels (qa8)
        parts = target.split(",")
        return all(part in named for part in parts) and len(named) == len(parts)
    return target in named and len(named) == 1
