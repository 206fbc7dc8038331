"""RULER under prompt_format=official: the token ids NVIDIA/RULER's scripts send, per family.

prepare.py (scripts/data/prepare.py, lines 72-87) writes every prompt as the model template of
scripts/data/template.py around the task template, then the answer prefix: `meta-chat` for
Llama-2 chat (`[INST] {task} [/INST]`), `meta-llama3` for Llama-3 (`<|begin_of_text|><|start_
header_id|>user<|end_header_id|>\\n\\n{task}<|eot_id|><|start_header_id|>assistant<|end_header_
id|>\\n\\n`), `base` (the task alone) for Mistral-7B-Instruct-v0.2 (config_models.sh) and for every
model without a template. cwe writes its worked example in the same template, answer after one
space, then a newline and the question (common_words_extraction.py generate_input_output). The
server tokenizes the string with the tokenizer's own special tokens, so `meta-llama3` prompts
open with two <|begin_of_text|> (and cwe's question turn brings a third). vt's worked example
sits inside the user turn, before the task. The ids are worked out from those rules and
tests/family_tokenizers.py's, not from lampe's code; the haystacks are RULER's generators at small
lengths (cwe with a stand-in word pool: building RULER's takes seconds, and it is not under test).
"""
from __future__ import annotations

import dataclasses

import pytest

from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.registry import get_benchmark
from tests.family_tokenizers import FAMILY_TOKENIZERS, byte_ids, sp_ids

LENGTHS = {"niah_multikey_3": 1024, "vt": 1536, "fwe": 1024, "cwe": 3072}
POOL = tuple(f"word{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(600))


def llama3_turn(user: str) -> list[int]:
    """meta-llama3 around `user`: <|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\n
    ... <|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\n"""
    return ([256, 258] + byte_ids("user") + [259] + byte_ids("\n\n" + user) + [260, 258] + byte_ids("assistant")
            + [259] + byte_ids("\n\n"))


def expected(family: str, user: str, prefix: str, example: tuple[str, str] | None = None) -> list[int]:
    """The ids RULER sends: [example turn + its answer + "\\n"] + the question's turn + answer prefix."""
    if family == "llama2":
        before = f"[INST] {example[0]} [/INST]{example[1]}\n" if example else ""
        return [1] + sp_ids(before + f"[INST] {user} [/INST]" + prefix)
    if family == "llama3":  # the tokenizer's BOS, then the template's own
        before = llama3_turn(example[0]) + byte_ids(example[1] + "\n") if example else []
        return [256] + before + llama3_turn(user) + byte_ids(prefix)
    text = (example[0] + example[1] + "\n" if example else "") + user + prefix  # `base`: the bare text
    return {"mistral": [1] + sp_ids(text), "base": [256] + byte_ids(text), "chatml": byte_ids(text)}[family]


@pytest.fixture(scope="module")
def ruler_samples():
    from evals.benchmarks.ruler import common_words

    patch = pytest.MonkeyPatch()
    patch.setattr(common_words, "common_words", lambda: POOL)
    patch.setattr(common_words, "large_words", lambda: POOL)
    try:
        found = {}
        for family, build in FAMILY_TOKENIZERS.items():
            tokenizer = build()
            for task, length in LENGTHS.items():
                bench = get_benchmark("ruler")(tasks=[task], lengths=[length], num_samples=1, haystack=None)
                found[family, task] = tokenizer, next(iter(bench.samples(tokenizer)))
        yield found
    finally:
        patch.undo()


@pytest.mark.parametrize("family", list(FAMILY_TOKENIZERS))
def test_official_ids_are_rulers(family, ruler_samples):
    for task in LENGTHS:
        tokenizer, sample = ruler_samples[family, task]
        lm = LanguageModel(None, tokenizer)
        assert lm.family == family and sample.prompt_format == "official"
        example = sample.history[0] if sample.history else None
        assert (example is not None) == (task == "cwe")
        if example:  # the worked example: the task text, then the answer prefix, a space and the answer
            assert example[1].startswith(sample.answer_prefix + " 1. ")
        ids = lm.prompt_ids(sample)
        assert ids == expected(family, sample.prompt, sample.answer_prefix, example), (family, task)
        assert len(ids) == sample.meta["prompt_tokens"] and len(ids) + sample.max_new_tokens <= LENGTHS[task]


def test_llama3_official_is_the_chat_template_plus_one_bos(ruler_samples):
    """The quirk, as filed: for niah, vt and fwe RULER's ids are [BOS] + the Llama-3 template's own."""
    for task in ("niah_multikey_3", "vt", "fwe"):
        tokenizer, sample = ruler_samples["llama3", task]
        chat = dataclasses.replace(sample, prompt_format="chat")
        assert LanguageModel(None, tokenizer).prompt_ids(sample) == [256] + LanguageModel(None, tokenizer).prompt_ids(chat)
