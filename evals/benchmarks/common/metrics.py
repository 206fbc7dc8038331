"""Answer-scoring functions of LongBench and L-Eval, written to reproduce their official numbers.

Every function scores one prediction against one reference and returns a float in [0, 1]
(`name(prediction, ground_truth, **kw) -> float`); benchmarks take the max over references.
The rules (normalisation, tokenisation, quirks included) follow THUDM/LongBench `metrics.py`
and OpenLMLab/LEval `Evaluation/{em,f1,rouge,auto_eval}.py`; the code here is our own.
`METRICS` maps a name to each function.
"""
from __future__ import annotations

import logging
import re
import string
import warnings
from collections import Counter
from functools import lru_cache
from typing import Callable

with warnings.catch_warnings():  # fuzzywuzzy warns that python-Levenshtein is absent: the official setup lacks it too
    warnings.simplefilter("ignore")
    from fuzzywuzzy import fuzz

# --------------------------------------------------------------------------- normalisation

_EN_PUNCT = set(string.punctuation)
_ZH_PUNCT = _EN_PUNCT | set(
    "！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏."
)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str, lower: bool = True) -> str:
    """SQuAD normalisation: (lower case,) drop punctuation, then articles, squeeze whitespace."""
    if lower:
        text = text.lower()
    text = "".join(ch for ch in text if ch not in _EN_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def normalize_zh_answer(text: str) -> str:
    """LongBench's Chinese normalisation: lower case, drop en+zh punctuation and all whitespace."""
    return "".join(ch for ch in text.lower() if ch not in _ZH_PUNCT and not ch.isspace())


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # silence "Building prefix dict" on first use
    return jieba


def jieba_words(text: str) -> list[str]:
    return list(_jieba().cut(text, cut_all=False))


# --------------------------------------------------------------------------- token F1

def token_f1(prediction_tokens: list[str], ground_truth_tokens: list[str]) -> float:
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(prediction_tokens)
    recall = same / len(ground_truth_tokens)
    return 2 * precision * recall / (precision + recall)


def qa_f1(prediction: str, ground_truth: str, **kw) -> float:
    """LongBench qa_f1_score (= L-Eval f1): token F1 after SQuAD normalisation."""
    return token_f1(normalize_answer(prediction).split(), normalize_answer(ground_truth).split())


def qa_f1_zh(prediction: str, ground_truth: str, **kw) -> float:
    """LongBench qa_f1_zh_score: token F1 over jieba words, each normalised, empties dropped."""

    def tokens(text: str) -> list[str]:
        return [t for t in (normalize_zh_answer(w) for w in jieba_words(text)) if t]

    return token_f1(tokens(prediction), tokens(ground_truth))


# --------------------------------------------------------------------------- LongBench ROUGE-L
# LongBench calls `rouge.Rouge().get_scores` (pip package "rouge" 1.0.1) and keeps rouge-l "f":
# sentences are split on ".", words on " ", and ROUGE-L is the summary-level union-LCS over word
# *sets* (the package's default exclusive mode). The package rebuilds each LCS recursively, one
# Python frame per traceback cell; past the interpreter's 1000-frame limit it raises and
# LongBench's bare `except` scores 0. We trace back iteratively and reproduce that cut-off: under
# eval.py the frames above the recursion are 9 (rouge) or 10 (rouge_zh), so at most 991 / 990
# traceback cells fit (measured against rouge 1.0.1 on CPython 3.11).
ROUGE_EN_MAX_TRACEBACK = 991
ROUGE_ZH_MAX_TRACEBACK = 990


class _TracebackTooLong(Exception):
    pass


def _pltrdy_sentences(text: str) -> list[str]:
    return [" ".join(part.split()) for part in text.split(".") if len(part) > 0]


def _lcs_word_set(ref: list[str], hyp: list[str], max_cells: int | None) -> set[str]:
    """Words of the LCS that rouge 1.0.1's traceback picks (same tie-breaking), as a set."""
    n, m = len(ref), len(hyp)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        row, prev, word = table[i], table[i - 1], ref[i - 1]
        for j in range(1, m + 1):
            row[j] = prev[j - 1] + 1 if word == hyp[j - 1] else max(prev[j], row[j - 1])
    words, i, j, cells = set(), n, m, 1
    while i > 0 and j > 0:
        if ref[i - 1] == hyp[j - 1]:
            words.add(ref[i - 1])
            i, j = i - 1, j - 1
        elif table[i - 1][j] > table[i][j - 1]:
            i -= 1
        else:
            j -= 1
        cells += 1
    if max_cells is not None and cells > max_cells:
        raise _TracebackTooLong
    return words


def rouge_l_summary(prediction: str, ground_truth: str, max_traceback: int | None = None) -> float:
    """ROUGE-L F of rouge 1.0.1 (summary level, exclusive); 0 where that package raises."""
    hyp, ref = _pltrdy_sentences(prediction), _pltrdy_sentences(ground_truth)
    if not hyp or not ref:  # the package raises "Hypothesis/Reference is empty"
        return 0.0
    hyp_words = [s.split(" ") for s in hyp]
    ref_words = [s.split(" ") for s in ref]
    m = len({w for s in ref_words for w in s})
    n = len({w for s in hyp_words for w in s})
    union: set[str] = set()
    try:
        for ref_s in ref_words:
            for hyp_s in hyp_words:
                union |= _lcs_word_set(ref_s, hyp_s, max_traceback)
    except _TracebackTooLong:
        return 0.0
    recall, precision = len(union) / m, len(union) / n
    return 2.0 * (precision * recall) / (precision + recall + 1e-8)


def rouge(prediction: str, ground_truth: str, **kw) -> float:
    """LongBench rouge_score: rouge 1.0.1 ROUGE-L F on the raw text (no lower-casing)."""
    return rouge_l_summary(prediction, ground_truth, ROUGE_EN_MAX_TRACEBACK)


def rouge_zh(prediction: str, ground_truth: str, **kw) -> float:
    """LongBench rouge_zh_score: the same ROUGE-L over jieba words joined by spaces."""
    return rouge_l_summary(" ".join(jieba_words(prediction)), " ".join(jieba_words(ground_truth)),
                           ROUGE_ZH_MAX_TRACEBACK)


# --------------------------------------------------------------------------- LongBench others

def classification(prediction: str, ground_truth: str, *, all_classes: list[str], **kw) -> float:
    """LongBench classification_score: 1/k if the answer is among the k class names found.

    A found class that is a strict substring of the answer is dropped; like the official loop
    (which removes from the list it iterates over), the element after each removal is skipped.
    """
    found = [name for name in all_classes if name in prediction]
    i = 0
    while i < len(found):
        term = found[i]
        if term in ground_truth and term != ground_truth:
            found.remove(term)
        i += 1
    return 1.0 / len(found) if ground_truth in found else 0.0


def _share_of(target: str, prediction: str) -> float:
    """Fraction of the numbers in `prediction` equal to `target` (0 when it has none)."""
    numbers = re.findall(r"\d+", prediction)
    return sum(number == target for number in numbers) / len(numbers) if numbers else 0.0


def count(prediction: str, ground_truth: str, **kw) -> float:
    """LongBench count_score (passage_count)."""
    return _share_of(str(ground_truth), prediction)


def retrieval(prediction: str, ground_truth: str, **kw) -> float:
    """LongBench retrieval_score: the answer is 'Paragraph N'; share of the numbers equal to N."""
    return _share_of(re.findall(r"Paragraph (\d+)", ground_truth)[0], prediction)


def retrieval_zh(prediction: str, ground_truth: str, **kw) -> float:
    """LongBench retrieval_zh_score: the answer is '段落N'."""
    return _share_of(re.findall(r"段落(\d+)", ground_truth)[0], prediction)


def code_sim(prediction: str, ground_truth: str, **kw) -> float:
    """LongBench code_sim_score: fuzz.ratio/100 with the first line holding no `, # or //."""
    line = next((row for row in prediction.lstrip("\n").split("\n")
                 if "`" not in row and "#" not in row and "//" not in row), "")
    return fuzz.ratio(line, ground_truth) / 100


# --------------------------------------------------------------------------- L-Eval closed-ended

def leval_exact_match(prediction: str, ground_truth: str, **kw) -> float:
    """L-Eval em.py exact_match_score on extracted answers.

    Option answers (only letters A-D): 1 if equal, 0.25 if the predicted letters are a subset
    (coursera's partial credit). Otherwise numeric equality when both parse as floats, else
    1 if the answer (lower case, no spaces) occurs in the prediction.
    """
    gold = normalize_answer(ground_truth, lower=False)
    if all(ch in "ABCD" for ch in gold):
        pred = normalize_answer(prediction, lower=False)
        if pred == gold:
            return 1.0
        return 0.25 if set(pred) <= set(gold) else 0.0
    try:
        return float(float(prediction) == float(ground_truth))
    except ValueError:
        return float(ground_truth.lower().replace(" ", "") in prediction.lower().replace(" ", ""))


def leval_option_answer(response: str, multiple: bool = False) -> str:
    """L-Eval process_output_mc: the option letter(s) in a response.

    Single-answer tasks take the first A-D character anywhere. Coursera (`multiple`) takes a
    leading run of letters, else capital letters standing alone before the next "Question",
    else the first run of A-D characters; "A" is the fallback guess.
    """
    if not response.strip():
        return "None"
    if response in "ABCD":
        return response
    if not multiple:
        for ch in response:
            if ch in "ABCD":
                return ch
    lead = len(response) - len(response.lstrip("ABCD"))
    letters, rest = response[:lead], response[lead:]
    if len(letters) > 1:
        return "".join(sorted(set(letters)))
    rest = rest.split("Question")[0]
    letters += " ".join(re.findall(r"\s*[A-Z](?=[\s.)])", rest)).strip()
    letters = "".join(sorted(set(re.sub(r"[^A-D]", "", letters))))
    if not letters:
        run = re.search(r"[ABCD]+", rest)
        letters = run.group(0) if run else ""
    return letters or "A"


def leval_option_gold(answer: str) -> str:
    """L-Eval process_gt_mc: the letters of the reference's first word ('(B) ...' -> 'B')."""
    return re.sub(r"[^A-D]", "", answer.split()[0]) or "A"


def leval_math_answer(text: str) -> str:
    """L-Eval process_math: digits of 'The answer is X', else of the last number-bearing word
    of the first paragraph; digits stop at the first '.'."""
    match = re.search(r"The answer is (\S+)", text)
    if match:
        word = match.group(1)
    else:
        words = text.split("\n\n")[0].split(" ")
        word = next((w for w in reversed(words) if any(ch.isdigit() for ch in w)), "")
    digits = ""
    for ch in word:
        if ch.isdigit():
            digits += ch
        if ch == ".":
            break
    return digits


def leval_judge_gold(text: str) -> list[str]:
    """L-Eval process_gt_judge: 'True [fact: False]' -> ['true', 'false'] (loyalty, fact)."""
    parts = text.lower().split("[fact:")
    return [parts[0].strip(), parts[1][:-1].strip()]


def leval_judge_answer(text: str) -> list[str]:
    """L-Eval process_output_judge: first word containing true/false in each half, else '<error>'."""
    answers = []
    for half in leval_judge_gold(text):
        word = next((w for w in half.split() if "true" in w or "false" in w), None)
        answers.append("<error>" if word is None else ("true" if "true" in word else "false"))
    return answers


def leval_code_gold(text: str) -> str:
    """L-Eval process_gt_code (codeU): squeeze whitespace, drop , ' \\ and '.0', join brackets."""
    text = re.sub(r"\s+", " ", text)
    for old, new in ((",", ""), ("'", ""), ("\\", ""), (".0", ""), ("] [", "]["), ("[ [", "[["), ("] ]", "]]")):
        text = text.replace(old, new)
    return text


def leval_code_answer(response: str, ground_truth: str) -> str:
    """L-Eval process_output_code: the words around 'the final output', else the last ones."""
    keep = len(ground_truth.split()) + 3
    response = leval_code_gold(response)
    for filler in ("will be", "of the code", "is", "would be", "the value of", "the result of", "printed"):
        response = response.replace(filler, "")
    if "the final output" in response:
        words = re.split(r"\s+", response.split("the final output")[-1])[:keep]
    else:
        words = re.split(r"\s+", response)[-keep:]
    return " ".join(words)


def leval_option(prediction: str, ground_truth: str, **kw) -> float:
    """quality / tpo: one option letter."""
    return leval_exact_match(leval_option_answer(prediction), leval_option_gold(ground_truth))


def leval_options(prediction: str, ground_truth: str, **kw) -> float:
    """coursera: one or more option letters, 0.25 for a strict subset."""
    return leval_exact_match(leval_option_answer(prediction, multiple=True), leval_option_gold(ground_truth))


def leval_math(prediction: str, ground_truth: str, **kw) -> float:
    """gsm100: the final number."""
    return leval_exact_match(leval_math_answer(prediction), leval_math_answer(ground_truth))


def leval_sci_fi_loyalty(prediction: str, ground_truth: str, **kw) -> float:
    """sci_fi, answer from the document (prediction is 'answer [fact: answer]')."""
    return leval_exact_match(leval_judge_answer(prediction)[0], leval_judge_gold(ground_truth)[0])


def leval_sci_fi_fact(prediction: str, ground_truth: str, **kw) -> float:
    """sci_fi, answer from world knowledge (the '[fact: ...]' part)."""
    return leval_exact_match(leval_judge_answer(prediction)[1], leval_judge_gold(ground_truth)[1])


def leval_sci_fi(prediction: str, ground_truth: str, **kw) -> float:
    """sci_fi: mean of loyalty and fact, as auto_eval.py averages the two."""
    return (leval_sci_fi_loyalty(prediction, ground_truth) + leval_sci_fi_fact(prediction, ground_truth)) / 2


def leval_code(prediction: str, ground_truth: str, **kw) -> float:
    """codeU: the printed output."""
    return leval_exact_match(leval_code_answer(prediction, ground_truth), leval_code_gold(ground_truth))


# --------------------------------------------------------------------------- L-Eval open-ended

@lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)


def leval_rouge_all(prediction: str, ground_truth: str) -> dict[str, float]:
    """L-Eval rouge.py: rouge-score F-measures, no stemmer (its sentence splitting only matters
    for rougeLsum, which L-Eval does not report)."""
    scores = _rouge_scorer().score(ground_truth, prediction)
    return {name: scores[name].fmeasure for name in ("rouge1", "rouge2", "rougeL")}


def leval_rouge1(prediction: str, ground_truth: str, **kw) -> float:
    return leval_rouge_all(prediction, ground_truth)["rouge1"]


def leval_rouge2(prediction: str, ground_truth: str, **kw) -> float:
    return leval_rouge_all(prediction, ground_truth)["rouge2"]


def leval_rouge_l(prediction: str, ground_truth: str, **kw) -> float:
    return leval_rouge_all(prediction, ground_truth)["rougeL"]


leval_f1 = qa_f1  # L-Eval f1.py is the same SQuAD token F1 as LongBench's qa_f1


METRICS: dict[str, Callable[..., float]] = {
    # LongBench (dataset2metric)
    "qa_f1": qa_f1,
    "qa_f1_zh": qa_f1_zh,
    "rouge": rouge,
    "rouge_zh": rouge_zh,
    "classification": classification,
    "retrieval": retrieval,
    "retrieval_zh": retrieval_zh,
    "count": count,
    "code_sim": code_sim,
    # L-Eval closed-ended
    "leval_exact_match": leval_exact_match,
    "leval_option": leval_option,
    "leval_options": leval_options,
    "leval_math": leval_math,
    "leval_sci_fi": leval_sci_fi,
    "leval_sci_fi_loyalty": leval_sci_fi_loyalty,
    "leval_sci_fi_fact": leval_sci_fi_fact,
    "leval_code": leval_code,
    # L-Eval open-ended
    "leval_f1": leval_f1,
    "leval_rouge1": leval_rouge1,
    "leval_rouge2": leval_rouge2,
    "leval_rouge_l": leval_rouge_l,
}


def get_metric(name: str) -> Callable[..., float]:
    if name not in METRICS:
        raise ValueError(f"Unknown metric '{name}'. Available: {', '.join(sorted(METRICS))}")
    return METRICS[name]


def best_over_references(metric: Callable[..., float], prediction: str, references: list[str], **kw) -> float:
    """Max over references, starting from 0 as both benchmarks do."""
    return max([0.0] + [float(metric(prediction, reference, **kw)) for reference in references])
