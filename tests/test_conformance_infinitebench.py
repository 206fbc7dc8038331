"""InfiniteBench under prompt_format=official: the token ids OpenBMB/InfiniteBench's scripts send.

Every open-weight script (src/eval_yarn_mistral.py, eval_yi_200k.py, eval_chatglm.py) builds the
prompt with create_prompt from yarn_mistral_templates (eval_utils.py:51-59) and applies no chat
template. get_pred (eval_yarn_mistral.py:141-169) then calls truncate_by_tokens (36-45):
`tok.encode(text)` (the tokenizer's special tokens: BOS where it adds one), and when longer than
TRUNCATE_LEN the first and last TRUNCATE_LEN // 2 ids (26-33), decoded as ONE sequence with
skip_special_tokens (the round trip happens even when nothing is cut); chunk_generate tokenizes
that text again with `tok(texts)` (73), adding the BOS again. The ids below follow those lines
and tests/family_tokenizers.py's rules, not lampe's code.
"""
from __future__ import annotations

import pytest

from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.infinitebench import InfiniteBench
from tests.family_tokenizers import FAMILY_TOKENIZERS, QWEN_SPECIAL, byte_ids, qwen25_instruct, sp_ids

NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n"
ROW = {"context": NOISE + "The pass key is 01234. Remember it. 01234 is the pass key.\n" + NOISE,
       "input": "What is the pass key?", "answer": "01234"}
# yarn_mistral_templates["passkey"] (prompt.py:18), filled by hand
TEXT = ("There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you "
        "about the important information.\n\n" + ROW["context"] + "\n\nWhat is the pass key?\n\nThe pass key is")
BOS = {"llama2": [1], "mistral": [1], "llama3": [256], "base": [256], "chatml": []}


def official_ids(family: str, text: str) -> list[int]:
    """`tok(text)`: the family's BOS, then the text under its layout."""
    return BOS[family] + (sp_ids(text) if family in ("llama2", "mistral") else byte_ids(text))


def bench(**options) -> InfiniteBench:
    return InfiniteBench(tasks=["passkey"], lengths=[4096], num_samples=1, **options)


@pytest.mark.parametrize("family", list(FAMILY_TOKENIZERS))
def test_official_ids_are_the_scripts(family):
    lm = LanguageModel(None, FAMILY_TOKENIZERS[family](), max_length=131072)
    assert lm.family == family
    sample = bench().sample_for("passkey", dict(ROW), "p", {})
    assert lm.prompt_ids(sample) == official_ids(family, TEXT)


# TRUNCATE_LEN = 14 keeps 7 ids from each end; the last 7 characters are " key is", so the cut's
# seam sits before a space. encode counts the BOS (and SentencePiece's leading "▁") among the
# first 7; one joint decode keeps the seam's space, which a lone decode of the last 7 would strip.
HALF = 7
FIRST = {"llama2": TEXT[:HALF - 2], "mistral": TEXT[:HALF - 2], "llama3": TEXT[:HALF - 1], "base": TEXT[:HALF - 1],
         "chatml": TEXT[:HALF]}


@pytest.mark.parametrize("family", list(FAMILY_TOKENIZERS))
def test_official_truncation_decodes_the_kept_ids_as_one_sequence(family):
    assert TEXT[-HALF:] == " key is"
    lm = LanguageModel(None, FAMILY_TOKENIZERS[family](), max_length=2 * HALF)
    sample = bench().sample_for("passkey", dict(ROW), "p", {})
    expected = official_ids(family, FIRST[family] + TEXT[-HALF:])
    assert lm.prompt_ids(sample) == expected
    if family in ("llama2", "mistral"):  # LongBench's rule (each half decoded alone) loses the space
        sample.truncation = "halves"
        assert lm.prompt_ids(sample) == official_ids(family, FIRST[family] + TEXT[-HALF + 1:])


def test_raw_is_the_official_text():
    lm = LanguageModel(None, FAMILY_TOKENIZERS["llama3"](), max_length=None)
    assert lm.prompt_ids(bench(prompt_format="raw").sample_for("passkey", dict(ROW), "p", {})) == \
        official_ids("llama3", TEXT)


def test_chat_puts_the_cue_after_the_generation_prompt():
    """lampe's own protocol: the template without its cue in one user turn (Qwen2.5's template adds
    its default system turn), the cue "The pass key is" opening the assistant's turn."""
    lm = LanguageModel(None, qwen25_instruct(), max_length=None)
    sample = bench(prompt_format="chat").sample_for("passkey", dict(ROW), "p", {})
    start, end = QWEN_SPECIAL["<|im_start|>"], QWEN_SPECIAL["<|im_end|>"]
    body = TEXT[:-len("\n\nThe pass key is")]
    expected = ([start] + byte_ids("system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
                + [end] + byte_ids("\n") + [start] + byte_ids("user\n" + body) + [end] + byte_ids("\n") + [start]
                + byte_ids("assistant\nThe pass key is"))
    assert lm.prompt_ids(sample) == expected
