"""Needle and passkey under prompt_format=official: what their original harnesses send, per family.

Neither harness has a case for an open model's chat template. The needle harness
(gkamradt/LLMTest_NeedleInAHaystack) sends a completion model one text, its Anthropic prompt file
(needlehaystack/providers/Anthropic_prompt.txt: "Human:" and "Assistant:" written in it, ending
"Assistant: Here is the most relevant sentence in the context:"); tokenized for an open model it
gets the tokenizer's BOS. The passkey test (epfml/landmark-attention, llama/run_test.py lines
96-121) joins its lines with newlines, ends "What is the pass key? The pass key is", and runs a
transformers text-generation pipeline, which then (transformers 4.28-4.3x) tokenized with
add_special_tokens=False: no BOS. The ids are worked out from those facts and
tests/family_tokenizers.py's rules, not from lampe's code.
"""
from __future__ import annotations

import pytest

from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.registry import get_benchmark
from tests.family_tokenizers import FAMILY_TOKENIZERS, byte_ids, sp_ids

ESSAY = ("The way to get startup ideas is not to try to think of startup ideas. It's to look for problems, "
         "preferably problems you have yourself. The very best startup ideas tend to have three things in common: "
         "they're something the founders themselves want, that they themselves can build, and that few others "
         "realize are worth doing. ") * 8
HARNESS_OPEN = ("You are a helpful AI bot that answers questions for a user. Keep your response short and direct\n\n"
                "Human: <context>\n")
HARNESS_CLOSE = ("\n</context>\n\nWhat is the best thing to do in San Francisco? Don't give information outside the "
                 "document or repeat your findings\n\nAssistant: Here is the most relevant sentence in the context:")
PASSKEY_OPEN = ("There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will "
                "quiz you about the important information there.\n")
PASSKEY_CLOSE = "\nWhat is the pass key? The pass key is"

WITH_BOS = {"llama2": lambda t: [1] + sp_ids(t), "mistral": lambda t: [1] + sp_ids(t),
            "llama3": lambda t: [256] + byte_ids(t), "base": lambda t: [256] + byte_ids(t), "chatml": byte_ids}
WITHOUT_BOS = {"llama2": sp_ids, "mistral": sp_ids, "llama3": byte_ids, "base": byte_ids, "chatml": byte_ids}


@pytest.fixture(scope="module")
def essays(tmp_path_factory):
    folder = tmp_path_factory.mktemp("essays")
    (folder / "startup_ideas.txt").write_text(ESSAY, encoding="utf-8")
    return str(folder)


@pytest.mark.parametrize("family", list(FAMILY_TOKENIZERS))
def test_needle_official_ids_are_the_harness_prompt_with_bos(family, essays):
    tokenizer = FAMILY_TOKENIZERS[family]()
    bench = get_benchmark("needle")(lengths=[1024], depths=[50], haystack=essays)
    sample = next(iter(bench.samples(tokenizer)))
    text = sample.prompt + sample.answer_prefix
    assert text.startswith(HARNESS_OPEN) and text.endswith(HARNESS_CLOSE)
    context = text[len(HARNESS_OPEN):-len(HARNESS_CLOSE)]
    assert "Dolores Park" in context
    lm = LanguageModel(None, tokenizer)
    assert lm.family == family
    assert lm.prompt_ids(sample) == WITH_BOS[family](HARNESS_OPEN + context + HARNESS_CLOSE)


@pytest.mark.parametrize("family", list(FAMILY_TOKENIZERS))
def test_passkey_official_ids_are_the_original_text_without_bos(family):
    tokenizer = FAMILY_TOKENIZERS[family]()
    bench = get_benchmark("passkey")(lengths=[1024], depths=[50], num_samples=1)
    sample = next(iter(bench.samples(tokenizer)))
    key = sample.references[0]
    text = sample.prompt + sample.answer_prefix
    assert text.startswith(PASSKEY_OPEN) and text.endswith(PASSKEY_CLOSE)
    assert f"\nThe pass key is {key}. Remember it. {key} is the pass key.\n" in text
    lm = LanguageModel(None, tokenizer)
    assert lm.prompt_ids(sample) == WITHOUT_BOS[family](text)
    assert len(lm.prompt_ids(sample)) + sample.max_new_tokens <= 1024
