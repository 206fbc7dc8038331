"""BABILong under prompt_format=official: the token ids booydar/babilong's script sends, per family.

scripts/run_model_on_babilong.py (at 7a6efee): with --use_chat_template, which every released run
script sets for an instruct model, the formatted input goes into one user message and
`tokenizer.apply_chat_template(..., add_generation_prompt=True)` tokenizes it (lines 168-172;
the vLLM/llama.cpp path, lines 141-146, tokenizes the same way); without it, for base models,
`tokenizer(input_text, add_special_tokens=True)` (lines 174-175). No cut. The ids below are worked
out from those lines, the published chat templates and tests/family_tokenizers.py's rules.
"""
from __future__ import annotations

import pytest

from evals.benchmarks.babilong import Babilong
from evals.benchmarks.common.lm import LanguageModel
from evals.files.paths import REPO_ROOT
from tests.family_tokenizers import FAMILY_TOKENIZERS, LLAMA3_SPECIAL, byte_ids, sp_ids
from tests.test_conformance_longbench_v2 import template_ids

pytestmark = pytest.mark.usefixtures("every_document_is_test")  # the fixture whole (splits: their own tests)

DATA = REPO_ROOT / "tests" / "fixtures" / "babilong" / "data"


def bare_ids(family: str, text: str) -> list[int]:
    """`tokenizer(text)`: the text with the tokenizer's own BOS (Qwen2.5 has none)."""
    if family in ("llama2", "mistral"):
        return [1] + sp_ids(text)
    return ([] if family == "chatml" else [LLAMA3_SPECIAL["<|begin_of_text|>"]]) + byte_ids(text)


class Recorder:
    """A model that only records the ids LanguageModel would prefill."""

    def __init__(self, tokenizer):
        self.lm = LanguageModel(None, tokenizer)
        self.ids = []

    def generate(self, sample):
        self.ids.append(self.lm.prompt_ids(sample))
        return "", len(self.ids[-1])


@pytest.mark.parametrize("family", list(FAMILY_TOKENIZERS))
def test_official_ids_are_the_scripts(family):
    bench = Babilong(data_dir=str(DATA), tasks=["qa4"], context_lengths=["0k"], samples_per_task=1)
    sample = next(bench.samples())
    assert sample.prompt.endswith("<context>\nThe office is north of the garden. The kitchen is south of the garden."
                                  "\n</context>\n\nQuestion: What is north of the garden?")
    model = Recorder(FAMILY_TOKENIZERS[family]())
    assert model.lm.family == family
    assert bench.evaluate(sample, model)["prompt_format"] == "official"
    assert model.ids == [template_ids(family, sample.prompt)]
    raw = Babilong(data_dir=str(DATA), tasks=["qa4"], context_lengths=["0k"], samples_per_task=1, prompt_format="raw")
    bare = Recorder(FAMILY_TOKENIZERS[family]())
    raw.evaluate(next(raw.samples()), bare)
    assert bare.ids == [bare_ids(family, sample.prompt)]
