"""RULER's variable tracking (vt): follow a chain "VAR A = 12345", "VAR B = VAR A ", ... hidden in
noise (or essay) text and name every variable that ends up holding the value.

As in RULER, each prompt starts with one worked example (a ~500-token chain with its answer),
its names and value re-drawn per sample.
"""
from __future__ import annotations

import heapq
import random

from evals.benchmarks.common.haystack import NOISE, split_sentences
from evals.benchmarks.common.sizing import derive_seed, fit_size
from evals.benchmarks.ruler.constants import DEPTHS
from evals.benchmarks.ruler.generator import Built, TaskGenerator, depth_percent

ICL_TOKENS = 500  # RULER sizes its in-context example to 500 tokens


class VariableTracking(TaskGenerator):
    family = "variable_tracking"
    _icl: str | None = None

    def incremental(self) -> int:
        if self.haystack_type() == "essay":
            return 500
        return 10 if self.length >= 4096 else 5

    def _chains(self, rng: random.Random, icl: bool) -> tuple[list[list[str]], list[list[str]]]:
        chains_n, hops = self.args["num_chains"], self.args["num_hops"]
        hops = min(10, hops) if icl else hops
        names: list[str] = []
        while len(names) < chains_n * (hops + 1):
            name = self.letters(rng, 3 if icl else 5)
            if name not in names:
                names.append(name)
        variables, chains = [], []
        for i in range(0, len(names), hops + 1):
            these = names[i:i + hops + 1]
            variables.append(these)
            value = "12345" if icl else self.number(rng, 10000, 99998)
            hops_text = [f"VAR {these[j + 1]} = VAR {these[j]} " for j in range(hops)]
            chains.append([f"VAR {these[0]} = {value}"] + hops_text)
        return variables, chains

    def _context(self, rng: random.Random, size: int, chains: list[list[str]]) -> str:
        if self.haystack_type() == "essay":
            sentences = split_sentences(self.essay_text(size))
            flat = _interleave(rng, chains)
            cuts = sorted(int(len(sentences) * d / 100) for d in rng.sample(DEPTHS, len(flat)))
            bounds = [0, *cuts, len(sentences)]
            parts = []
            for i in range(1, len(bounds)):
                parts.append(" ".join(sentences[bounds[i - 1]:bounds[i]]))
                if i - 1 < len(flat):
                    parts.append(flat[i - 1].strip() + ".")
            context = " ".join(parts)
        else:
            lines = [NOISE] * size
            for chain in chains:
                for j, at in enumerate(sorted(rng.sample(range(max(len(lines), len(chain))), len(chain)))):
                    lines.insert(at + j, chain[j])
            context = "\n".join(lines)
        return context.replace(". \n", ".\n")

    def _render(self, rng: random.Random, size: int, icl: bool) -> tuple[str, str, list[str], float | None]:
        """(prompt, answer prefix, answer variables, depth of the value assignment)."""
        variables, chains = self._chains(rng, icl)
        value = chains[0][0].split("=")[-1].strip()
        context = self._context(rng, size, chains)
        num_v = len(variables[0])
        text = self.template.format(context=context, query=value, num_v=num_v)
        prefix = self.answer_prefix.format(query=value, num_v=num_v)
        return text, prefix, variables[0], depth_percent(context, chains[0][0])

    def icl_example(self) -> str:
        """The worked example: template, answer prefix and answer, about ICL_TOKENS long."""
        if self._icl is None:
            count = self.counter.raw

            def tokens(size: int) -> int:
                text, prefix, _, _ = self._render(random.Random(derive_seed(*self.seed_parts("icl"))), size, True)
                return count(text + prefix)

            step = 50 if self.haystack_type() == "essay" else 5
            size = fit_size(tokens, ICL_TOKENS, step) or 1
            text, prefix, answer, _ = self._render(random.Random(derive_seed(*self.seed_parts("icl"))), size, True)
            self._icl = text + prefix + " " + " ".join(answer) + "\n"
        return self._icl

    def _randomize(self, rng: random.Random, example: str) -> str:
        for name in example.strip().split()[-(self.args["num_hops"] + 1):]:
            example = example.replace(name, self.letters(rng, len(name)))
        return example.replace("12345", self.number(rng, 10000, 99998))

    def build(self, rng: random.Random, size: int, index: int) -> Built:
        example = self._randomize(rng, self.icl_example())
        text, prefix, answer, depth = self._render(rng, size, False)
        return Built(text=example + "\n" + text, answer_prefix=prefix, answers=answer,
                     meta={"depth": depth, "haystack": self.haystack_type()})


def _interleave(rng: random.Random, chains: list[list[str]]) -> list[str]:
    """Merge chains in a random order that keeps each chain's own order (RULER's heap shuffle)."""
    heap = [(rng.random(), i, 0) for i in range(len(chains))]
    heapq.heapify(heap)
    out = []
    while heap:
        _, i, j = heapq.heappop(heap)
        out.append(chains[i][j])
        if j + 1 < len(chains[i]):
            heapq.heappush(heap, (rng.random(), i, j + 1))
    return out
