"""String-match scores of RULER, needle and passkey on hand-computed cases."""
from __future__ import annotations

import pytest

from evals.benchmarks.common.match_metrics import (
    answer_match,
    keyword_recall,
    passkey_match,
    rouge1_recall,
    ruler_postprocess,
    string_match_all,
    string_match_part,
)


def test_string_match_all_is_the_fraction_of_references_found_case_insensitively():
    assert string_match_all("The numbers are 123 and 456.", ["123", "456"]) == 1.0
    assert string_match_all("the numbers are 123", ["123", "456", "789", "000"]) == 0.25
    assert string_match_all("VAR ABCDE and abcdf", ["abcde", "ABCDF"]) == 1.0
    assert string_match_all("nothing here", ["x1"]) == 0.0


def test_string_match_part_is_one_if_any_reference_is_found():
    assert string_match_part("It was Paris, France", ["paris", "Lyon"]) == 1.0
    assert string_match_part("It was Rome", ["paris", "Lyon"]) == 0.0


def test_ruler_task_score_matches_the_official_corpus_formula():
    # RULER: sum over samples of (found/len(refs)) / n * 100, rounded to 2 decimals
    predictions = ["a b", "a", "c"]
    references = [["a", "b"], ["a", "b"], ["x", "y", "z"]]
    per_sample = [string_match_all(p, r) for p, r in zip(predictions, references)]
    assert round(100 * sum(per_sample) / len(per_sample), 2) == 50.0  # (1 + 0.5 + 0) / 3
    part = [string_match_part(p, r) for p, r in zip(predictions, references)]
    assert round(100 * sum(part) / len(part), 2) == 66.67


def test_empty_references_are_an_error():
    with pytest.raises(ValueError):
        string_match_all("x", [])
    with pytest.raises(ValueError):
        string_match_part("x", [])
    with pytest.raises(ValueError):
        keyword_recall("x", [])


def test_ruler_postprocess_strips_and_turns_control_characters_into_newlines():
    assert ruler_postprocess("  12\t34\x0056  ") == "12\n34\n56"
    assert ruler_postprocess("\n\nabc\n") == "abc"


def test_answer_match_ignores_case_punctuation_and_spacing():
    answer = "eat a sandwich and sit in Dolores Park on a sunny day"
    assert answer_match("Eat a sandwich, and sit in  Dolores Park on a sunny day!", answer) == 1.0
    assert answer_match("Eat a sandwich in Dolores Park.", answer) == 0.0


def test_keyword_recall_counts_whole_words_only():
    keywords = ["sandwich", "Dolores Park"]
    assert keyword_recall("A sandwich in dolores park.", keywords) == 1.0
    assert keyword_recall("Sit in Dolores Park", keywords) == 0.5
    assert keyword_recall("sandwiches everywhere", keywords) == 0.0  # no partial words


def test_rouge1_recall_by_hand():
    # reference unigrams: the, cat, sat (3); prediction has "the cat" -> recall 2/3
    assert rouge1_recall("the cat", "the cat sat") == pytest.approx(2 / 3)
    assert rouge1_recall("dogs run", "the cat sat") == 0.0


def test_passkey_match_needs_the_exact_first_number():
    assert passkey_match(" 68200. Remember it.", "68200") == 1.0
    assert passkey_match("The pass key is 682001", "68200") == 0.0  # extra digit
    assert passkey_match("I think 12 then 68200", "68200") == 0.0  # first number is wrong
    assert passkey_match("no digits", "68200") == 0.0
