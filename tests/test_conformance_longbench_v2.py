"""LongBench v2 under prompt_format=official: the token ids THUDM/LongBench's v2 pred.py sends, per family.

pred.py (at 2e00731): the filled prompt is tokenized with the tokenizer's special tokens and, when
longer than max_len, cut to its first max_len//2 and last -(-max_len//2) tokens decoded together
with special tokens skipped (query_llm, lines 27-30); it goes to a vLLM 0.5.3 server's chat
endpoint as one user message (lines 42-44), which applies the model's chat template and tokenizes
the result with no special token added (ChatCompletionRequest.add_special_tokens defaults to
False). A base model has no template (the server refuses it): lampe sends the bare prompt with its
BOS. The ids below are worked out from those lines, the published chat templates and
tests/family_tokenizers.py's rules, not from lampe's code.
"""
from __future__ import annotations

import json

import pytest

from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.longbench_v2 import LongBenchV2
from tests.family_tokenizers import FAMILY_TOKENIZERS, LLAMA3_SPECIAL, QWEN_SPECIAL, byte_ids, sp_ids

pytestmark = pytest.mark.usefixtures("every_document_is_test")  # the fixture whole (splits: their own tests)

RECORD = {"_id": "c1", "domain": "Single-Document QA", "sub_domain": "Literary", "difficulty": "easy",
          "length": "short", "question": "What sails?", "choice_A": "Ships", "choice_B": "Cars", "choice_C": "Birds",
          "choice_D": "Fish", "answer": "A", "context": "Ships sail."}
PROMPT = ("Please read the following text and answer the question below.\n\n<text>\nShips sail.\n</text>\n\n"
          "What is the correct answer to this question: What sails?\nChoices:\n(A) Ships\n(B) Cars\n(C) Birds\n"
          "(D) Fish\n\nFormat your response as follows: \"The correct answer is (insert answer here)\".")
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def template_ids(family: str, content: str) -> list[int]:
    """The ids of one user message in the family's published chat template (generation prompt on);
    `base`: the bare text with the BOS."""
    l3, qw = LLAMA3_SPECIAL, QWEN_SPECIAL
    if family in ("llama2", "mistral"):  # <s>[INST] {content} [/INST] (Llama-2 strips the content)
        return [1] + sp_ids("[INST] " + (content.strip() if family == "llama2" else content) + " [/INST]")
    if family == "llama3":  # BOS, user header, the trimmed content, eot, assistant header
        return ([l3["<|begin_of_text|>"], l3["<|start_header_id|>"]] + byte_ids("user") + [l3["<|end_header_id|>"]]
                + byte_ids("\n\n" + content.strip()) + [l3["<|eot_id|>"], l3["<|start_header_id|>"]]
                + byte_ids("assistant") + [l3["<|end_header_id|>"]] + byte_ids("\n\n"))
    if family == "chatml":  # Qwen2.5: its default system turn, the user turn, the assistant header
        start, end = qw["<|im_start|>"], qw["<|im_end|>"]
        return ([start] + byte_ids("system\n" + QWEN_SYSTEM) + [end] + byte_ids("\n") + [start]
                + byte_ids("user\n" + content) + [end] + byte_ids("\n") + [start] + byte_ids("assistant\n"))
    assert family == "base"
    return [LLAMA3_SPECIAL["<|begin_of_text|>"]] + byte_ids(content)


# max_len 41: head 20 tokens, tail 21; one token per character, the BOS (Llama-2, Mistral, Llama-3
# and the base model) the first of the head and SentencePiece's leading "▁" the second
HEAD = {"llama2": 18, "mistral": 18, "llama3": 19, "base": 19, "chatml": 20}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lbv2")
    (folder / "data.json").write_text(json.dumps([RECORD]))
    return LongBenchV2(data_dir=str(folder))


def ids_sent(bench, tokenizer, max_length):
    sample = next(bench.samples())
    model, asked = bench.query(LanguageModel(None, tokenizer, max_length=max_length), sample, sample.prompt, 128)
    return model.prompt_ids(asked)


@pytest.mark.parametrize("family", list(FAMILY_TOKENIZERS))
def test_official_ids_are_pred_pys(family, bench):
    tokenizer = FAMILY_TOKENIZERS[family]()
    assert LanguageModel(None, tokenizer).family == family
    assert next(bench.samples()).prompt == PROMPT
    assert ids_sent(bench, tokenizer, None) == template_ids(family, PROMPT)
    cut = PROMPT[:HEAD[family]] + PROMPT[-21:]
    assert ids_sent(bench, tokenizer, 41) == template_ids(family, cut)


def test_the_cut_is_v2s_not_v1s():
    """v2 keeps ceil(max_len/2) tail tokens and decodes head and tail together: a tail that starts
    with a space keeps it under SentencePiece (decoded alone its "▁" would be dropped)."""
    from evals.benchmarks.longbench_v2.prompts import cut_middle

    llama3, llama2 = FAMILY_TOKENIZERS["llama3"](), FAMILY_TOKENIZERS["llama2"]()
    text = "abcdefghijklmnopqrstuvwxyz0123456789"
    assert cut_middle(text, llama3, 11) == "abcd" + "456789"  # head: BOS + 4, tail: 6
    assert cut_middle(text, llama3, 10) == "abcd" + "56789"
    assert cut_middle("abcdefghij klmn", llama2, 9) == "ab klmn"  # head [<s>, ▁, a, b], tail [▁, k, l, m, n]
    assert LanguageModel(None, llama2, max_length=9).truncate_middle("abcdefghij klmn", True) == "abklmn"  # v1's


def test_the_cut_text_is_sent_as_it_is(bench):
    """pred.py sends the decoded cut text without cutting again, even where a character split at
    the seam decodes to U+FFFD and the text re-encodes longer than max_len."""
    tokenizer = FAMILY_TOKENIZERS["base"]()
    text = "ab" + "é" * 10 + "cd"  # BOS + 24 bytes; max_len 10: [BOS a b C3 A9] + [A9 C3 A9 c d]
    model, asked = bench.query(LanguageModel(None, tokenizer, max_length=10), next(bench.samples()), text, 128)
    assert asked.prompt == "abé\ufffdécd"
    assert model.prompt_ids(asked) == [LLAMA3_SPECIAL["<|begin_of_text|>"]] + byte_ids("abé\ufffdécd")  # 12 > 10
