"""RULER's frequent words extraction (fwe): coded 6-letter words drawn from a Zipf (zeta) law with
exponent `alpha`; name the three most frequent ones (the most frequent, '...', is noise).
"""
from __future__ import annotations

import math
import random
import string

from evals.benchmarks.ruler.generator import Built, TaskGenerator


def zeta(alpha: float, terms: int = 1000) -> float:
    """Riemann zeta(alpha) for alpha > 1 (Euler-Maclaurin tail; ~1e-12 accurate, no scipy needed)."""
    if alpha <= 1:
        raise ValueError(f"fwe alpha must be > 1, got {alpha}")
    head = math.fsum(k**-alpha for k in range(1, terms))
    n = float(terms)
    return head + n ** (1 - alpha) / (alpha - 1) + 0.5 * n**-alpha + alpha * n ** (-alpha - 1) / 12


class FreqWords(TaskGenerator):
    family = "freq_words_extraction"

    def incremental(self) -> int:
        return max(1, (self.length - self.tokens_to_generate) // 32)

    def vocab_size(self) -> int:
        given = self.args.get("vocab_size", -1)
        return (self.length - self.tokens_to_generate) // 50 if given in (-1, None) else int(given)

    def build(self, rng: random.Random, size: int, index: int) -> Built:
        alpha, wordlen = float(self.args.get("alpha", 2.0)), int(self.args.get("coded_wordlen", 6))
        wanted = self.vocab_size()
        vocab: set[str] = set()
        while len(vocab) < wanted:
            vocab.add(self.letters(rng, wordlen, string.ascii_lowercase))
        ranked = sorted(vocab)
        rng.shuffle(ranked)
        ranked[0] = "..."  # the most frequent "word" is noise
        norm = zeta(alpha)
        text_words = [w for k, w in enumerate(ranked, 1) for _ in range(int(size * k**-alpha / norm))]
        rng.shuffle(text_words)
        text = self.template.format(context=" ".join(text_words), query="")
        return Built(text=text, answer_prefix=self.answer_prefix, answers=ranked[1:4], meta={"num_words": size})
