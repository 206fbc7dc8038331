"""RULER's needle-in-a-haystack family (niah_single_*, niah_multikey_*, niah_multivalue, niah_multiquery).

Needles "One of the special magic numbers for <key> is: <value>." hide in noise sentences, essay
text (at sentence boundaries, at depths drawn from RULER's 40 depths) or a haystack of distractor
needles; the question asks for the values of 1 or more keys.
"""
from __future__ import annotations

import random

from evals.benchmarks.common.haystack import NOISE, split_sentences
from evals.benchmarks.ruler.constants import DEPTHS, NEEDLE
from evals.benchmarks.ruler.generator import Built, TaskGenerator, depth_percent


def _singular(text: str) -> str:
    """RULER's wording for a single answer ('Some ... are' -> 'A ... is')."""
    for old, new in (("Some", "A"), ("are all", "is"), ("are", "is"), ("answers", "answer")):
        text = text.replace(old, new)
    return text


class Niah(TaskGenerator):
    family = "niah"

    def incremental(self) -> int:
        if self.haystack_type() == "essay":
            return 500
        return 25 if self.length >= 4096 else 5

    def build(self, rng: random.Random, size: int, index: int) -> Built:
        a = self.args
        type_v, type_k = a["type_needle_v"], a["type_needle_k"]
        num_k = max(a["num_needle_k"], a["num_needle_q"])
        keys, values, needles = [], [], []
        for _ in range(num_k):
            keys.append(self.value(rng, type_k))
            values.append([])
            for _ in range(a["num_needle_v"]):
                values[-1].append(self.value(rng, type_v))
                needles.append(NEEDLE.format(type_needle_v=type_v, key=keys[-1], value=values[-1][-1]))
        rng.shuffle(needles)

        kind = self.haystack_type()
        if kind == "essay":
            sentences = split_sentences(self.essay_text(size))
            cuts = sorted(int(len(sentences) * d / 100) for d in rng.sample(DEPTHS, len(needles)))
            bounds = [0, *cuts, len(sentences)]
            parts = []
            for i in range(1, len(bounds)):
                parts.append(" ".join(sentences[bounds[i - 1]:bounds[i]]))
                if i - 1 < len(needles):
                    parts.append(needles[i - 1])
            context = " ".join(parts)
        else:
            if kind == "noise":
                lines = [NOISE] * size
            else:  # "needle": distractor needles with their own random keys and values
                lines = [NEEDLE.format(type_needle_v=type_v, key=self.value(rng, type_k),
                                       value=self.value(rng, type_v)) for _ in range(size)]
            places = sorted(rng.sample(range(max(size, len(needles))), len(needles)), reverse=True)
            for at, needle in zip(places, needles):
                lines.insert(at, needle)
            context = "\n".join(lines)

        picked = rng.sample(range(num_k), a["num_needle_q"])
        queries = [keys[i] for i in picked]
        answers = [v for i in picked for v in values[i]]
        query = ", ".join(queries[:-1]) + ", and " + queries[-1] if len(queries) > 1 else queries[0]

        template, prefix = self.template, self.answer_prefix
        if a["num_needle_q"] * a["num_needle_v"] == 1:
            template, prefix, type_v = _singular(template), _singular(prefix), type_v[:-1]
        asked = [n for n in needles if any(f" for {q} is: " in n for q in queries)]
        return Built(
            text=template.format(type_needle_v=type_v, context=context, query=query),
            answer_prefix=prefix.format(type_needle_v=type_v, query=query),
            answers=answers,
            meta={"keys": queries, "depth": min(depth_percent(context, n) for n in asked),
                  "needle_depths": sorted(depth_percent(context, n) for n in needles), "haystack": kind},
        )
