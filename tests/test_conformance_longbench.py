"""LongBench under prompt_format=official: the token ids THUDM/LongBench's pred.py sends, per family.

pred.py (LongBench/pred.py): the prompt is dataset2prompt's template filled with the record; it is
tokenized with the tokenizer's special tokens and, when longer than max_length, cut to the
decoded first and last max_length/2 tokens (lines 56-62, the BOS among the first half); outside
the six few-shot/code tasks `build_chat` wraps it, which for Llama-2 chat is `[INST]{prompt}[/INST]`
with no spaces (line 33) and for every family it has no case for the prompt unchanged (line 42);
then `tokenizer(prompt)` adds the BOS again (line 71). samsum ends at [EOS, the newline's last
token] (line 81). The ids below are worked out from those lines and tests/family_tokenizers.py's
rules, not from lampe's code.
"""
from __future__ import annotations

import json

import pytest

from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.longbench.benchmark import LongBench
from tests.family_tokenizers import FAMILY_TOKENIZERS, byte_ids, sp_ids


def longbench(**options) -> LongBench:
    """LongBench with every task and sample (the small preset's defaults cap them)."""
    return LongBench(**{"tasks": "all", "samples_per_task": None, **options})


CONTEXT = 'Passage 1:\nTrusty system (prison)\nThe "trusty system" was a penitentiary system of discipline.'
QUESTION = "Which case was brought to court first Miller v. California or Gates v. Collier ?"
# dataset2prompt.json's hotpotqa template, filled by hand
HOTPOT = ("Answer the question based on the given passages. Only give me the answer and do not output any other "
          "words.\n\nThe following are given passages.\n" + CONTEXT + "\n\nAnswer the question based on the given "
          "passages. Only give me the answer and do not output any other words.\n\nQuestion: " + QUESTION +
          "\nAnswer:")
TREC = ("Please determine the type of the question below. Here are some examples of questions.\n\n"
        "Question: What detective lives on Punchbowl Hill ?\nType: Individual\n"
        "Question: Where was the first golf course in the United States ?\nType:")

# family -> the ids pred.py sends for HOTPOT (a chat task) and TREC (left raw for every family)
EXPECTED = {
    "llama2": ([1] + sp_ids("[INST]" + HOTPOT + "[/INST]"), [1] + sp_ids(TREC)),
    "llama3": ([256] + byte_ids(HOTPOT), [256] + byte_ids(TREC)),
    "chatml": (byte_ids(HOTPOT), byte_ids(TREC)),
    "mistral": ([1] + sp_ids(HOTPOT), [1] + sp_ids(TREC)),
    "base": ([256] + byte_ids(HOTPOT), [256] + byte_ids(TREC)),
}
# max_length=40: 20 tokens from each end, the BOS (where the tokenizer adds one) the first of
# them; one token per character, and SentencePiece's "▁" in front takes one more place
KEPT = {"llama2": "Answer the questio", "mistral": "Answer the questio", "llama3": "Answer the question",
        "base": "Answer the question", "chatml": "Answer the question "}
TAIL = "v. Collier ?\nAnswer:"  # the last 20 characters
TRUNCATED = {
    "llama2": [1] + sp_ids("[INST]" + KEPT["llama2"] + TAIL + "[/INST]"),
    "llama3": [256] + byte_ids(KEPT["llama3"] + TAIL),
    "chatml": byte_ids(KEPT["chatml"] + TAIL),
    "mistral": [1] + sp_ids(KEPT["mistral"] + TAIL),
    "base": [256] + byte_ids(KEPT["base"] + TAIL),
}
# samsum's end: [tokenizer.eos_token_id, tokenizer.encode("\n", add_special_tokens=False)[-1]]
SAMSUM_EOS = {"llama2": [2, 13], "llama3": [260, 10], "chatml": [258, 10], "mistral": [2, 13], "base": [257, 10]}


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    folder = tmp_path_factory.mktemp("longbench")
    rows = {"hotpotqa": {"input": QUESTION, "context": CONTEXT, "answers": ["Miller v. California"]},
            "trec": {"input": "Question: Where was the first golf course in the United States ?\nType:",
                     "context": "Question: What detective lives on Punchbowl Hill ?\nType: Individual",
                     "answers": ["Other location"], "all_classes": ["Individual", "Other location"]},
            "samsum": {"input": "Dialogue: William: are you still angry?\nSummary: ",
                       "context": "Dialogue: Lisa: hey\nSummary: Lisa says hey.", "answers": ["Emilia is angry."]}}
    for task, row in rows.items():
        row = {"length": 100, "all_classes": None, "_id": f"{task}-0", **row}
        (folder / f"{task}.jsonl").write_text(json.dumps(row) + "\n")
    # prompt_format: official by default; both splits (a record's split is a hash of its context)
    return {s.task: s for split in ("test", "dev")
            for s in longbench(tasks=list(rows), data_dir=str(folder), split=split).samples()}


@pytest.mark.parametrize("family", list(FAMILY_TOKENIZERS))
def test_official_ids_are_pred_pys(family, samples):
    lm = LanguageModel(None, FAMILY_TOKENIZERS[family]())
    assert lm.family == family
    hotpot, trec = EXPECTED[family]
    assert lm.prompt_ids(samples["hotpotqa"]) == hotpot
    assert lm.prompt_ids(samples["trec"]) == trec
    assert LanguageModel(None, lm.tokenizer, max_length=40).prompt_ids(samples["hotpotqa"]) == TRUNCATED[family]
    assert lm.eos_ids(samples["samsum"]) == SAMSUM_EOS[family]
