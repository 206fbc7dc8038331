"""Every metric in evals.benchmarks.common.metrics on hand-computed cases (LongBench metrics.py / L-Eval auto_eval.py rules)."""
from __future__ import annotations

import pytest

from evals.benchmarks.common import metrics as M

# (metric name, prediction, reference, extra kwargs, expected); worked out by hand in the comments
CASES = [
    # qa_f1: "cat sat" vs "cat sat on mat" -> P=1, R=1/2 -> F1 = 2/3
    ("qa_f1", "The Cat sat.", "a cat sat on the mat", {}, 2 / 3),
    ("qa_f1", "Paris", "paris!", {}, 1.0),
    ("qa_f1", "", "Paris", {}, 0.0),
    # qa_f1_zh: jieba 我/爱/北京 vs 北京 -> P=1/3, R=1 -> 1/2; the "。" token normalises away
    ("qa_f1_zh", "我爱北京", "北京", {}, 0.5),
    ("qa_f1_zh", "北京。", "北京", {}, 1.0),
    # rouge (rouge 1.0.1 ROUGE-L): word sets {the,cat,sat} / {the,cat,ran}, LCS {the,cat} -> 2/3
    ("rouge", "the cat sat", "the cat ran", {}, 2 / 3),
    # summary level: sentences split on "."; union of per-sentence LCS words covers all 4 words -> 1
    # (a flat LCS over "a b c d" vs "a c b d" would give 3/4)
    ("rouge", "a b. c d", "a c. b d", {}, 1.0),
    ("rouge", "The cat", "the cat", {}, 0.5),  # case-sensitive: only "cat" is shared
    ("rouge", "", "the cat", {}, 0.0),  # the package raises on an empty hypothesis -> 0
    # rouge_zh: jieba words [我, 爱, 北京] vs [北京]: R=1, P=1/3 -> 1/2
    ("rouge_zh", "我爱北京", "北京", {}, 0.5),
    # classification: 1/(number of class names found) when the answer is among them
    ("classification", "Type: Location", "Location", {"all_classes": ["Location", "Number"]}, 1.0),
    ("classification", "Location or Number", "Location", {"all_classes": ["Location", "Number"]}, 0.5),
    ("classification", "no idea", "Location", {"all_classes": ["Location", "Number"]}, 0.0),
    # found [a, ab, abc]; "a" (strict substring of the answer) is removed and, as in the official
    # loop, the next element "ab" is skipped -> [ab, abc] -> 1/2
    ("classification", "abc", "abc", {"all_classes": ["a", "ab", "abc"]}, 0.5),
    # retrieval: share of the numbers in the prediction equal to the paragraph id
    ("retrieval", "Paragraph 3, or maybe 4", "Paragraph 3", {}, 0.5),
    ("retrieval", "I do not know", "Paragraph 3", {}, 0.0),
    ("retrieval_zh", "段落12", "段落12", {}, 1.0),
    ("retrieval_zh", "段落1或段落12", "段落12", {}, 0.5),
    # count: share of the numbers equal to the count
    ("count", "There are 7 unique paragraphs, not 8", "7", {}, 0.5),
    ("count", "none", "7", {}, 0.0),
    # code_sim: first line without ` # // ; difflib ratio 2*3/8 = 0.75
    ("code_sim", "```python\n# comment\n    return x + 1\n", "    return x + 1", {}, 1.0),
    ("code_sim", "abcd", "abce", {}, 0.75),
    # L-Eval exact match on extracted answers
    ("leval_exact_match", "B", "B", {}, 1.0),
    ("leval_exact_match", "A", "B", {}, 0.0),
    ("leval_exact_match", "B", "BD", {}, 0.25),  # coursera partial credit: a strict subset
    ("leval_exact_match", "18.0", "18", {}, 1.0),  # numeric comparison
    ("leval_exact_match", "I would say Aliens and UFOs", "aliens andUFOs", {}, 1.0),  # contained, no case/spaces
    ("leval_exact_match", "", "18", {}, 0.0),
    # quality/tpo: first A-D character of the response (so "Answer: B" reads as A)
    ("leval_option", "The answer is (C).", "(C) the hall", {}, 1.0),
    ("leval_option", "Answer: B", "(B) the hall", {}, 0.0),
    # coursera: leading letters, then lone capitals before "Question", partial credit 0.25
    ("leval_options", "CA. both", "AC", {}, 1.0),
    ("leval_options", "A. Analyze data \nB. Generate", "ABD", {}, 0.25),
    ("leval_options", "D", "AC", {}, 0.0),
    # gsm100: the number after "The answer is", digits up to a "."
    ("leval_math", "3 + 15 = 18 eggs.\nThe answer is 18.", "18", {}, 1.0),
    ("leval_math", "The answer is 17", "18", {}, 0.0),
    # sci_fi: loyalty (document) and fact (world knowledge), averaged
    ("leval_sci_fi", "True. [fact: True]", "True [fact: False]", {}, 0.5),
    ("leval_sci_fi_loyalty", "True. [fact: True]", "True [fact: False]", {}, 1.0),
    ("leval_sci_fi_fact", "True. [fact: True]", "True [fact: False]", {}, 0.0),
    ("leval_sci_fi_fact", "It is true [fact: it is false.]", "True [fact: False]", {}, 1.0),
    # codeU: "[1, 2]\n[3, 4]" -> "[1 2][3 4]", found in "The output [1 2][3 4]"
    ("leval_code", "The output is [1, 2]\n[3, 4]", "[1, 2]\n[3, 4]", {}, 1.0),
    ("leval_code", "The output is [1, 3]", "[1, 2]", {}, 0.0),
    # L-Eval open-ended: SQuAD F1 and rouge-score F (lower-cased tokens, no stemmer)
    ("leval_f1", "The Cat sat.", "a cat sat on the mat", {}, 2 / 3),
    ("leval_rouge_l", "The cat sat", "the cat ran", {}, 2 / 3),
    ("leval_rouge1", "The cat sat", "the cat ran", {}, 2 / 3),
    ("leval_rouge2", "The cat sat", "the cat ran", {}, 0.5),  # bigrams: 1 of 2 shared
]


@pytest.mark.parametrize("name,prediction,reference,kw,expected", CASES)
def test_metric_hand_cases(name, prediction, reference, kw, expected):
    assert M.METRICS[name](prediction, reference, **kw) == pytest.approx(expected, abs=1e-6)


def test_every_metric_has_hand_cases():
    assert {case[0] for case in CASES} == set(M.METRICS)


def test_rouge_reproduces_the_recursion_cut_off():
    """rouge 1.0.1 rebuilds the LCS recursively; LongBench scores 0 past the frame limit."""
    reference = "x w0"
    fits = " ".join(f"w{k}" for k in range(990))  # traceback visits 991 cells: fits under eval.py
    too_long = " ".join(f"w{k}" for k in range(991))
    assert M.rouge(fits, reference) > 0
    assert M.rouge(too_long, reference) == 0.0
    assert M.rouge_zh(" ".join(f"w{k}" for k in range(989)), reference) > 0
    assert M.rouge_zh(fits, reference) == 0.0  # rouge_zh sits one frame deeper
    assert M.rouge_l_summary(too_long, reference, max_traceback=None) > 0


def test_normalisers():
    assert M.normalize_answer("The  Cat, an apple!") == "cat apple"
    assert M.normalize_answer("The A", lower=False) == "The A"  # L-Eval's em.py keeps case
    assert M.normalize_zh_answer("北京， 欢迎 You！") == "北京欢迎you"


def test_leval_answer_extraction():
    assert M.leval_option_answer("") == "None"
    assert M.leval_option_answer("B") == "B"
    assert M.leval_option_answer("The answer is (C)") == "C"
    assert M.leval_option_answer("no idea") == "A"  # the official fallback guess
    assert M.leval_option_answer("AC", multiple=True) == "AC"
    assert M.leval_option_answer("A. Analyze the data \nB. Generate", multiple=True) == "AB"
    assert M.leval_option_answer("xyz BD", multiple=True) == "BD"  # first run of A-D letters
    assert M.leval_option_gold("(B) Their subconscious") == "B"
    assert M.leval_option_gold("xyz") == "A"
    assert M.leval_math_answer("We get 1,234.5 dollars\n\nQuestion: 7") == "1234"
    assert M.leval_judge_gold("True [fact: False]") == ["true", "false"]
    assert M.leval_judge_answer("Maybe [fact: no idea]") == ["<error>", "<error>"]
    assert M.leval_code_gold("[1, 2]\n[3, 4]") == "[1 2][3 4]"
    assert M.leval_code_answer("The output is [1, 2]\n[3, 4]", "[1, 2]\n[3, 4]") == "The output [1 2][3 4]"


def test_best_over_references_and_lookup():
    assert M.best_over_references(M.qa_f1, "cat", ["dog", "the cat", "cat dog"]) == 1.0
    assert M.best_over_references(M.qa_f1, "cat", []) == 0.0
    with pytest.raises(ValueError, match="Unknown metric 'bleu'.*qa_f1"):
        M.get_metric("bleu")
