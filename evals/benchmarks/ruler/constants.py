"""RULER's task definitions, as released in NVIDIA/RULER (scripts/data/synthetic/constants.py,
scripts/synthetic.yaml, scripts/eval/synthetic/constants.py): prompt templates, answer prefixes,
generation budgets, metrics and the 13 task configurations. These are facts; keep them verbatim.
"""
from __future__ import annotations

import numpy as np

# family -> template, answer prefix, tokens to generate, metric
FAMILIES: dict[str, dict] = {
    "niah": {
        "tokens_to_generate": 128,
        "template": (
            "Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. "
            "I will quiz you about the {type_needle_v} afterwards.\n{context}\n"
            "What are all the special magic {type_needle_v} for {query} mentioned in the provided text?"
        ),
        "answer_prefix": " The special magic {type_needle_v} for {query} mentioned in the provided text are",
        "metric": "string_match_all",
    },
    "variable_tracking": {
        "tokens_to_generate": 30,
        "template": (
            "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\n"
            "Question: Find all variables that are assigned the value {query} in the text above."
        ),
        "answer_prefix": (
            " Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables "
            "are assigned the value {query}, they are: "
        ),
        "metric": "string_match_all",
    },
    "common_words_extraction": {
        "tokens_to_generate": 120,
        "template": (
            "Below is a numbered list of words. In these words, some appear more often than others. "
            "Memorize the ones that appear most often.\n{context}\n"
            "Question: What are the 10 most common words in the above list?"
        ),
        "answer_prefix": " Answer: The top 10 words that appear most often in the list are:",
        "metric": "string_match_all",
    },
    "freq_words_extraction": {
        "tokens_to_generate": 50,
        "template": (
            "Read the following coded text and track the frequency of each coded word. Find the three most "
            "frequently appeared coded words. {context}\nQuestion: Do not provide any explanation. Please ignore "
            "the dots '....'. What are the three most frequently appeared words in the above coded text?"
        ),
        "answer_prefix": " Answer: According to the coded text above, the three most frequently appeared words are:",
        "metric": "string_match_all",
    },
    "qa": {
        "tokens_to_generate": 32,
        "template": (
            "Answer the question based on the given documents. Only give me the answer and do not output any "
            "other words.\n\nThe following are given documents.\n\n{context}\n\nAnswer the question based on the "
            "given documents. Only give me the answer and do not output any other words.\n\nQuestion: {query}"
        ),
        "answer_prefix": " Answer:",
        "metric": "string_match_part",
    },
}

# task -> (family, arguments): scripts/synthetic.yaml
TASKS: dict[str, tuple[str, dict]] = {
    "niah_single_1": ("niah", dict(type_haystack="noise", type_needle_k="words", type_needle_v="numbers",
                                   num_needle_k=1, num_needle_v=1, num_needle_q=1)),
    "niah_single_2": ("niah", dict(type_haystack="essay", type_needle_k="words", type_needle_v="numbers",
                                   num_needle_k=1, num_needle_v=1, num_needle_q=1)),
    "niah_single_3": ("niah", dict(type_haystack="essay", type_needle_k="words", type_needle_v="uuids",
                                   num_needle_k=1, num_needle_v=1, num_needle_q=1)),
    "niah_multikey_1": ("niah", dict(type_haystack="essay", type_needle_k="words", type_needle_v="numbers",
                                     num_needle_k=4, num_needle_v=1, num_needle_q=1)),
    "niah_multikey_2": ("niah", dict(type_haystack="needle", type_needle_k="words", type_needle_v="numbers",
                                     num_needle_k=1, num_needle_v=1, num_needle_q=1)),
    "niah_multikey_3": ("niah", dict(type_haystack="needle", type_needle_k="uuids", type_needle_v="uuids",
                                     num_needle_k=1, num_needle_v=1, num_needle_q=1)),
    "niah_multivalue": ("niah", dict(type_haystack="essay", type_needle_k="words", type_needle_v="numbers",
                                     num_needle_k=1, num_needle_v=4, num_needle_q=1)),
    "niah_multiquery": ("niah", dict(type_haystack="essay", type_needle_k="words", type_needle_v="numbers",
                                     num_needle_k=1, num_needle_v=1, num_needle_q=4)),
    "vt": ("variable_tracking", dict(type_haystack="noise", num_chains=1, num_hops=4)),
    "cwe": ("common_words_extraction", dict(freq_cw=30, freq_ucw=3, num_cw=10)),
    "fwe": ("freq_words_extraction", dict(alpha=2.0)),
    "qa_1": ("qa", dict(dataset="squad")),
    "qa_2": ("qa", dict(dataset="hotpotqa")),
}

# What RULER's scripts wrap around every prompt, per model family, under prompt_format=official:
# scripts/data/template.py's `meta-chat` (llama2-7b-chat in scripts/config_models.sh) and
# `meta-llama3` (llama3.1-8b-chat); Mistral-7B-Instruct-v0.2 ran with `base` (config_models.sh
# until commit f798861), and `base` is prepare.py's default for every other model. The answer
# prefix follows the closing text; the wrapped string is tokenized with the tokenizer's own
# special tokens, so `meta-llama3` starts with two <|begin_of_text|> (the template's and the
# tokenizer's, as RULER's vLLM server and HF wrapper both tokenize).
OFFICIAL_TEMPLATES: dict[str, list[str]] = {
    "llama2": ["[INST] ", " [/INST]"],
    "llama3": ["<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n",
               "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"],
}

# The RULER sequence lengths (scripts/config_models.sh) and samples per task (config_tasks.sh).
SEQ_LENGTHS = [4096, 8192, 16384, 32768, 65536, 131072]
NUM_SAMPLES = 500

# Needle depths (percent) a needle is drawn from: 40 evenly spaced values in [0, 100].
DEPTHS = [int(d) for d in np.round(np.linspace(0, 100, num=40, endpoint=True)).astype(int)]

# niah needle sentence, and the QA document format.
NEEDLE = "One of the special magic {type_needle_v} for {key} is: {value}."
DOCUMENT = "Document {i}:\n{document}"
