"""L-Eval under prompt_format=official: the token ids OpenLMLab/LEval's llama2-chat-test.py sends.

L-Eval has one script per model and none for Llama-3, Qwen or Mistral; its README says to copy a
baseline and put the model in, so every family gets llama2-chat-test.py's text (lines 93-126):
`[INST]<<SYS>>\\n` + the system prompt (LEval_config.py get_sys_prompt, trailing space kept) +
`\\n<</SYS>>\\n\\n` + the task's layout; exam tasks close the turn with `[/INST]` and add
`\\nAnswer:`, gsm100 and codeU leave it open; `tokenizer(text)` adds the tokenizer's BOS (line
133). sci_fi's second question is the instruction with the world replaced by real-world
knowledge, bare (line 143). Every task generates 512 tokens (LEval_config.py line 18). The ids
are worked out from those lines and tests/family_tokenizers.py's rules, not from lampe's code.
"""
from __future__ import annotations

import json

import pytest

from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.leval import LEval
from tests.family_tokenizers import FAMILY_TOKENIZERS, byte_ids, sp_ids


def leval(**options) -> LEval:
    """L-Eval with every task, document and question (the small preset's defaults cap them)."""
    return LEval(**{"tasks": "all", "samples_per_task": None, "instructions_per_doc": None,
                    "letter_max_new_tokens": None, **options})


QUALITY_DOC = ("LOST    IN    TRANSLATION \n\n   By \n\n   LARRY M.    HARRIS   \n\n    In language translation, you may "
               "get a literally accurate\n word-for-word translation ... but miss the meaning entirely.")
QUALITY_Q = "Why did the Tr'en leave Korvin's door unlocked?\n\n (A) They were careless. \n (B) Their subconscious knew."
GSM_DOC = "Question: A farmer has 3 cows and buys 2 more. How many cows?\nLet's think step by step\n3 + 2 = 5\nThe answer is 5"
GSM_Q = "Question: Janet’s ducks lay 16 eggs per day. She eats three. How many are left?\nLet's think step by step\n"
SCI_Q = ("1.\thumans have mastered interstellar travel, True or False? Answer this question based on the world "
         "described in the document.")
SYS_EXAM = ("Now you are given a very long document. Please follow the instruction based on this document. For "
            "multi-choice questions, there is only a sinlge correct option. Please only provide the letter "
            "corresponding to the answer (like A or B) when answering. For other questions, please directly give "
            "the concise and accurate answer. ")
SYS_GSM = ("Given several question answer pairs, you need to follow a similar format to answer the last question. "
           "Make sure the response is end with The answer is _ . ")
SYS_SCI = ("Now you are given a scientific fiction. I will ask you some questions and the answer should be \"True\" "
           "or \"False\". Notice that you should answer the question based on the evidence in the document instead "
           "of your background knowledge.")

QUALITY = ("[INST]<<SYS>>\n" + SYS_EXAM + "\n<</SYS>>\n\nDocument is as follows. " + QUALITY_DOC + " \nQuestion: "
           + QUALITY_Q + ".  Please directly give the answer without any additional output or explanation [/INST]"
           "\nAnswer:")
GSM = "[INST]<<SYS>>\n" + SYS_GSM + "\n<</SYS>>\n\n" + GSM_DOC + "\n\n" + GSM_Q  # the turn left open
SCI = "[INST]<<SYS>>\n" + SYS_SCI + "\n<</SYS>>\n\nDocument is as follows. Sirius. \nQuestion: " + SCI_Q + (
    ".  Please directly give the answer without any additional output or explanation [/INST]\nAnswer:")
FACT = ("1.\thumans have mastered interstellar travel, True or False? Answer this question based on the real-world "
        "knowledge and facts up until your last trainingPlease directly answer without any additional output or "
        "explanation. \nAnswer:")

SENTENCEPIECE = lambda text: [1] + sp_ids(text)  # noqa: E731 - <s>, then one stretch of text
LLAMA3_BYTES = lambda text: [256] + byte_ids(text)  # noqa: E731 - <|begin_of_text|>, then the bytes
ENCODE = {"llama2": SENTENCEPIECE, "mistral": SENTENCEPIECE, "llama3": LLAMA3_BYTES, "base": LLAMA3_BYTES,
          "chatml": byte_ids}


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    folder = tmp_path_factory.mktemp("leval") / "Closed-ended-tasks"
    folder.mkdir()
    docs = {"quality": (QUALITY_DOC, QUALITY_Q, "(B) Their subconscious knew."), "gsm100": (GSM_DOC, GSM_Q, "5"),
            "sci_fi": ("Sirius.", SCI_Q, "True [fact: False]")}
    for task, (text, question, answer) in docs.items():
        row = {"input": text, "instructions": [question], "outputs": [answer], "evaluation": "exam"}
        (folder / f"{task}.jsonl").write_text(json.dumps(row) + "\n")
    bench = leval(data_dir=str(folder.parent))  # prompt_format: official by default
    # both splits: a document's split is a hash of its text ("Sirius." falls in dev)
    found = {s.task: s for split in ("test", "dev") for s in leval(data_dir=str(folder.parent), split=split).samples()}
    return bench, found


@pytest.mark.parametrize("family", list(FAMILY_TOKENIZERS))
def test_official_ids_are_llama2_chat_tests(family, samples):
    bench, found = samples
    lm = LanguageModel(None, FAMILY_TOKENIZERS[family]())
    assert lm.family == family
    encode = ENCODE[family]
    assert lm.prompt_ids(found["quality"]) == encode(QUALITY)
    assert lm.prompt_ids(bench.script_formatted(found["gsm100"])) == encode(GSM)
    assert lm.prompt_ids(found["sci_fi"]) == encode(SCI)
    assert lm.prompt_ids(bench.fact_sample(found["sci_fi"])) == encode(FACT)
    assert {s.max_new_tokens for s in found.values()} == {512}
