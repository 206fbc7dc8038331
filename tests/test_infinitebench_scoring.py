"""InfiniteBench's scorers against the official numbers and against cases worked out by hand.

The prediction files under tests/fixtures/infinitebench are the authors' own (OpenBMB/InfiniteBench
results/, see the README there); each must score the number InfiniteBench's README reports for it.
The hand cases state compute_scores.py's rules (OpenBMB/InfiniteBench src/compute_scores.py) one
quirk at a time.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.benchmarks.infinitebench.scoring import SCORERS, score
from evals.benchmarks.infinitebench.tasks import TASKS

FIXTURES = Path(__file__).parent / "fixtures" / "infinitebench"
# file -> the number in InfiniteBench's README table (percent, two decimals)
README = {
    "yarn-mistral/preds_passkey.jsonl": 92.71,
    "yi-6b-200k/preds_number_string.jsonl": 94.92,
    "kimi/preds_kv_retrieval.jsonl": 53.60,
    "yi-6b-200k/preds_longbook_qa_eng.jsonl": 9.20,
    "yi-6b-200k/preds_longbook_choice_eng.jsonl": 36.68,
    "gpt4/preds_longdialogue_qa_eng.jsonl": 8.50,
    "yi-6b-200k/preds_longbook_qa_chn.jsonl": 15.07,
    "yi-34b-200k/preds_math_find.jsonl": 25.71,
    "yi-34b-200k/preds_code_debug.jsonl": 13.96,
}


def file_scores(name: str) -> list[float]:
    task = name.split("preds_")[1].removesuffix(".jsonl")
    rows = [json.loads(line) for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [score(task, row["prediction"], row["ground_truth"]) for row in rows]


@pytest.mark.parametrize("name", list(README))
def test_published_predictions_score_the_published_number(name):
    scores = file_scores(name)
    assert round(100 * sum(scores) / len(scores), 2) == README[name]


def test_code_run_file_scores_the_seven_right_answers():
    """Yi-34B's Code.Run: the README says "< 5%"; by hand, exactly ids 78, 175, 210, 228, 330,
    355 and 382 end in the right integer (" -5." for -5, " 40." for 40, ...): 7 / 400."""
    scores = file_scores("yi-34b-200k/preds_code_run.jsonl")
    assert [i for i, s in enumerate(scores) if s] == [78, 175, 210, 228, 330, 355, 382]
    assert 100 * sum(scores) / len(scores) == 1.75 < 5


def test_every_task_has_a_scorer():
    assert set(SCORERS) == set(TASKS)
    with pytest.raises(ValueError, match="Unknown InfiniteBench task 'passkeys'. Valid: passkey"):
        score("passkeys", "1", "1")


@pytest.mark.parametrize("task, prediction, label, expected", [
    # passkey / number_string: the first digit run, compared as a string
    ("passkey", " 71432.", ["71432"], 1.0),
    ("passkey", "The pass key is 071432", ["71432"], 0.0),  # leading zero: another string
    ("passkey", "key 7143 2", ["71432"], 0.0),  # the first run only
    ("number_string", "07926999", "07926999", 1.0),  # a string label is used as it is
    # kv_retrieval: the value must be a whole word once : " ' . , ? ! { } newline are spaces
    ("kv_retrieval", '\n\n"5e6b7b90-710d-4953".', "5e6b7b90-710d-4953", 1.0),
    ("kv_retrieval", "value=5e6b7b90-710d-4953", "5e6b7b90-710d-4953", 0.0),
    ("kv_retrieval", "5e6b7b90-710d", "5e6b7b90-710d-4953", 0.0),  # cut off
    ("kv_retrieval", "{5e6b7b90-710d-4953}", "5e6b7b90-710d-4953", 1.0),
    # code_run: the last word, read by int()
    ("code_run", " -5.", [-5], 1.0),
    ("code_run", "The return value is: `12`", 12, 1.0),
    ("code_run", "12 is the value", 12, 0.0),  # the last word is "value"
    ("code_run", "", [3], 0.0),
    # code_debug, label [function, letter]
    ("code_debug", "B. repack_carchive", ["repack_carchive", "B"], 1.0),
    ("code_debug", "\n B: it crashes", ["repack_carchive", "B"], 1.0),
    ("code_debug", "B", ["repack_carchive", "B"], 0.0),  # a bare letter finds no phrase
    ("code_debug", "The correct option is: B", ["f", "B"], 1.0),  # "is:" is found first
    ("code_debug", "The answer is: Option C", ["f", "B"], 0.0),
    ("code_debug", "answer: repack_carchive", ["repack_carchive", "B"], 1.0),  # the name counts too
    ("code_debug", "the answer is:", ["f", "B"], 0.0),  # nothing after the phrase
    # longbook_choice_eng, label [text, letter]
    ("longbook_choice_eng", " C", ["Snowfield", "C"], 1.0),
    ("longbook_choice_eng", "D) Snowfield", ["Snowfield", "C"], 0.0),  # the first letter decides
    ("longbook_choice_eng", "Snowfield", ["Snowfield", "C"], 1.0),
    ("longbook_choice_eng", "The answer is: C.", ["Snowfield", "C"], 1.0),
    ("longbook_choice_eng", "I think the option is Snowfield", ["Snowfield", "C"], 1.0),
    ("longbook_choice_eng", "It must be: C, surely", ["Snowfield", "C"], 1.0),  # the first word in ABCD
    ("longbook_choice_eng", "It is AB or C", ["Snowfield", "C"], 0.0),  # "AB" is in "ABCD": it decides
    ("longbook_choice_eng", "   ", ["Snowfield", "C"], 0.0),
    # longdialogue_qa_eng: upper-cased words against the label's first name as released
    ("longdialogue_qa_eng", " Ace.", ["ACE", "ACE ROTHSTEIN"], 1.0),
    ("longdialogue_qa_eng", "GINGER", ["ACE", "ACE ROTHSTEIN"], 0.0),
    ("longdialogue_qa_eng", "remo", ["Remo", "GAGGI"], 0.0),  # the label is not upper-cased
    # math_find: the first number; an int label wants an int, a float label a float
    ("math_find", "94.", [94], 1.0),
    ("math_find", "The answer is 94.5", 94.5, 1.0),
    ("math_find", "94.0", [94], 0.0),  # the official int("94.0") raises; here it is wrong
    ("math_find", "-3", [3], 1.0),  # no sign
    ("math_find", "none", [3], 0.0),
    # math_calc: leading values right, signs lost, GPT-4's first number not dropped
    ("math_calc", "[1, 4, 9, 5]", [1, 4, 8, 5], 0.5),
    ("math_calc", "Values: 3, -1", [[3, 1]], 1.0),
    ("math_calc", "", [1, 2], 0.0),
    # longbook_qa_eng: SQuAD F1, best label
    ("longbook_qa_eng", "The Peyton", ['"Peyton"', "Mrs. Deandra"], 1.0),
    ("longbook_qa_eng", "Peyton is the child", ['"Peyton"'], 0.5),  # P 1/3 (the article dropped), R 1
    # longbook_qa_chn: F1 over characters, punctuation and spaces dropped: P 2/2, R 2/9 -> 4/11
    ("longbook_qa_chn", "商老", ["胡一刀, 马行空, 商老太"], 4 / 11),
    ("longbook_qa_chn", "商老太。", ["胡一刀", "商老太"], 1.0),
])
def test_scorer_rule(task, prediction, label, expected):
    assert score(task, prediction, label) == pytest.approx(expected)


def test_rouge_lsum_splits_sentences_at_newlines():
    """En.Sum is rougeLsum: each line of the summary is a sentence and the reference's tokens
    take the union of their LCS with every line. Two lines in the wrong order still cover all six
    reference words (F = 1); as one line, the LCS is three of six words (P = R = F = 0.5)."""
    reference = "The cat sat on the mat"
    assert score("longbook_sum_eng", "on the mat\nthe cat sat", reference) == pytest.approx(1.0)
    assert score("longbook_sum_eng", "on the mat the cat sat", reference) == pytest.approx(0.5)
    # a list of references scores the best (evaluate's score_multi); case and punctuation do not count
    assert score("longbook_sum_eng", "THE CAT, SAT!", ["dogs run", reference]) == pytest.approx(2 * 0.5 / 1.5)
