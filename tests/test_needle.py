"""Needle-in-a-Haystack: the grid, lengths, needle depth at sentence ends, scoring, summary, errors."""
from __future__ import annotations

import json

import pytest

from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.needle import NEEDLE, depth_grid, summarize_grid
from evals.benchmarks.registry import get_benchmark

LENGTHS = [512, 1024]
DEPTHS = [0, 10, 50, 100]


def make(**config):
    return get_benchmark("needle")(**{"lengths": LENGTHS, "depths": DEPTHS, **config})


@pytest.fixture(scope="module")
def samples(tokenizer):
    return list(make().samples(tokenizer))


def context_of(sample):
    return sample.prompt.split("<context>\n", 1)[1].rsplit("\n</context>", 1)[0]


def test_one_sample_per_cell_fitted_to_the_length(samples, tokenizer):
    lm = LanguageModel(None, tokenizer)
    assert [s.id for s in samples] == [f"needle-{n}-{d}" for n in LENGTHS for d in DEPTHS]
    for s in samples:
        total = len(lm.prompt_ids(s)) + s.max_new_tokens
        assert s.meta["length"] - 8 <= total <= s.meta["length"], (s.id, total)


def test_the_needle_is_present_once_at_its_depth(samples):
    for s in samples:
        context = context_of(s)
        assert context.count(NEEDLE) == 1
        where = 100 * context.index(NEEDLE) / len(context)
        depth = s.meta["depth"]
        assert depth - 12 <= where <= depth + 1, (s.id, where)  # moved back at most one sentence
    first, last = samples[0], samples[3]
    assert context_of(first).startswith(NEEDLE) and context_of(last).endswith(NEEDLE)


def test_the_needle_goes_in_at_a_sentence_end(samples):
    for s in samples:
        if 0 < s.meta["depth"] < 100:
            before = context_of(s).split(NEEDLE)[0].rstrip()
            assert before.endswith((".", "!", "?")), (s.id, before[-30:])


def test_prompt_is_the_harness_template_with_its_answer_prefix(samples, tokenizer):
    """official (and raw): the harness's Anthropic prompt file, Human:/Assistant: in the text."""
    s = samples[1]
    assert s.prompt_format == "official"
    assert s.prompt.startswith("You are a helpful AI bot that answers questions for a user. Keep your response short "
                               "and direct\n\nHuman: <context>\n")
    assert s.prompt.endswith("\n</context>\n\nWhat is the best thing to do in San Francisco? Don't give information "
                             "outside the document or repeat your findings\n\nAssistant: ")
    assert s.answer_prefix == "Here is the most relevant sentence in the context:"
    assert s.references == ["eat a sandwich and sit in Dolores Park on a sunny day"]
    raw = next(iter(make(lengths=[512], depths=[50], prompt_format="raw").samples(tokenizer)))
    chat = next(iter(make(lengths=[512], depths=[50], prompt_format="chat").samples(tokenizer)))
    assert raw.prompt.endswith("findings\n\nAssistant: ") and "Human:" in raw.prompt
    assert "Human:" not in chat.prompt and chat.prompt.endswith("document or repeat your findings")
    with pytest.raises(ValueError, match=r"Invalid benchmark.prompt_format='anthropic'. Valid choices: official, chat"):
        make(prompt_format="anthropic")


def test_needle_question_and_answer_are_configurable(tokenizer):
    bench = make(lengths=[512], depths=[50], needle=" The secret ingredient is saffron. ",
                 question="What is the secret ingredient?", answer="saffron", keywords=["saffron"], rouge=True)
    s = next(iter(bench.samples(tokenizer)))
    assert "The secret ingredient is saffron." in s.prompt and "What is the secret ingredient?" in s.prompt
    assert bench.score(s, "It is saffron.") == {"keyword_recall": 1.0, "answer_match": 1.0, "rouge1_recall": 1.0}
    assert bench.score(s, "pepper") == {"keyword_recall": 0.0, "answer_match": 0.0, "rouge1_recall": 0.0}


def test_scores_of_the_default_needle(samples):
    bench = make()
    assert bench.score(samples[0], "The best thing is to eat a sandwich and sit in Dolores Park on a sunny day.") == {
        "keyword_recall": 1.0, "answer_match": 1.0}
    assert bench.score(samples[0], "Go to Dolores Park.") == {"keyword_recall": 0.5, "answer_match": 0.0}


def test_depth_intervals_give_the_harness_linear_grid():
    assert depth_grid(5) == [0, 25, 50, 75, 100]
    assert make(depth_intervals=3).depths == [0.0, 50.0, 100.0]


def test_summarize_grid_by_hand():
    def rec(n, d, v):
        return {"meta": {"length": n, "depth": d}, "scores": {"keyword_recall": v, "answer_match": 0.0}}

    out = summarize_grid([rec(1024, 0, 1.0), rec(1024, 50, 0.5), rec(2048, 0, 0.0), rec(2048, 50, 0.0)])
    assert out["metric"] == "keyword_recall"
    assert out["grid"] == {"1024": {"0": 100.0, "50": 50.0}, "2048": {"0": 0.0, "50": 0.0}}
    assert out["lengths"] == {"1024": 75.0, "2048": 0.0} and out["depths"] == {"0": 50.0, "50": 25.0}
    assert out["average"] == 37.5 and out["metrics"]["answer_match"] == 0.0


def test_errors_name_the_bad_value(tmp_path):
    with pytest.raises(ValueError, match="depths"):
        make(depths=[120])
    with pytest.raises(ValueError, match="Unknown needle option 'depth'"):
        make(depth=[50])
    with pytest.raises(FileNotFoundError, match="missing_essays"):
        make(haystack=str(tmp_path / "missing_essays"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .txt files"):
        make(haystack=str(tmp_path / "empty"))
    with pytest.raises(ValueError, match=r"\{context\}"):
        make(template="no context here")


def test_a_length_too_short_is_an_error(tokenizer):
    with pytest.raises(ValueError, match="length 64 is too short"):
        list(make(lengths=[64]).samples(tokenizer))


@pytest.mark.slow
def test_needle_end_to_end_on_the_embedded_model(tmp_path):
    import lampe
    from evals.run.loop import run_benchmark

    model, tokenizer = lampe.load_model("smollm2")
    bench = make(lengths=[1024], depths=[0, 50])
    metrics = run_benchmark(bench, LanguageModel(model, tokenizer), tmp_path, limit=2, progress=False)
    assert set(metrics["grid"]) == {"1024"} and set(metrics["grid"]["1024"]) == {"0", "50"}
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["prediction"] for r in records)
