"""Passkey retrieval: the classic prompt, fitted lengths, key depth, determinism, scoring, summary."""
from __future__ import annotations

import json
import re

import pytest

from evals.benchmarks.common.haystack import NOISE
from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.passkey import ANSWER_PREFIX, TASK
from evals.benchmarks.registry import get_benchmark


def make(**config):
    return get_benchmark("passkey")(**{"lengths": [512, 1024], "depths": [0, 50, 100], "num_samples": 2, **config})


@pytest.fixture(scope="module")
def samples(tokenizer):
    return list(make().samples(tokenizer))


def test_samples_cover_the_grid_and_fit_the_length(samples, tokenizer):
    lm = LanguageModel(None, tokenizer)
    assert len(samples) == 2 * 3 * 2 and samples[0].id == "passkey-512-0-0" and samples[-1].id == "passkey-1024-100-1"
    for s in samples:
        total = len(lm.prompt_ids(s)) + s.max_new_tokens
        assert s.meta["length"] - 40 <= total <= s.meta["length"], (s.id, total)  # within one filler unit


def test_the_prompt_is_the_classic_one(samples):
    s = samples[2]
    key = s.references[0]
    assert s.prompt.startswith(TASK + "\n" + NOISE)
    assert f"\nThe pass key is {key}. Remember it. {key} is the pass key.\n" in s.prompt
    assert s.prompt.endswith("\nWhat is the pass key?") and ANSWER_PREFIX == " The pass key is"
    assert 1 <= int(key) <= 50000 and s.max_new_tokens == 10


def test_official_is_the_original_pipelines_text_without_bos(tokenizer):
    """landmark-attention's run_test.py went through a transformers pipeline that added no special tokens."""
    official = next(iter(make(lengths=[512], depths=[50], num_samples=1).samples(tokenizer)))
    raw = next(iter(make(lengths=[512], depths=[50], num_samples=1, prompt_format="raw").samples(tokenizer)))
    assert (official.prompt_format, official.special_tokens, raw.special_tokens) == ("official", False, True)
    assert official.prompt == raw.prompt and official.answer_prefix == raw.answer_prefix


def test_the_key_sits_at_its_depth(samples):
    """round(fillers x depth / 100) filler units before the key, moved one unit to an even count
    (the test split's positions; dev takes the odd ones)."""
    for s in samples:
        filler = s.prompt.split(TASK + "\n", 1)[1]
        before = filler.split("The pass key is", 1)[0].count(NOISE)
        assert abs(before - s.meta["fillers"] * s.meta["depth"] / 100) <= 1.5 and before % 2 == 0
        assert before == s.meta["units_before"]


def test_keys_are_seeded_and_differ_between_samples(samples, tokenizer):
    keys = [s.references[0] for s in samples]
    assert len(set(keys)) > len(keys) // 2
    assert keys == [s.references[0] for s in make().samples(tokenizer)]
    assert keys != [s.references[0] for s in make(seed=1).samples(tokenizer)]


def test_score_is_exact_match_of_the_first_number(samples):
    bench, s = make(), samples[0]
    key = s.references[0]
    assert bench.score(s, f" {key}. Remember it.") == {"accuracy": 1.0}
    assert bench.score(s, f"{key}0") == {"accuracy": 0.0}


def test_summary_is_the_length_by_depth_grid():
    rec = lambda n, d, v: {"meta": {"length": n, "depth": d}, "scores": {"accuracy": v}}  # noqa: E731
    out = make().summarize([rec(512, 0, 1.0), rec(512, 0, 0.0), rec(1024, 50, 1.0)])
    assert out["grid"] == {"512": {"0": 50.0}, "1024": {"50": 100.0}}
    assert out["lengths"] == {"512": 50.0, "1024": 100.0} and out["average"] == pytest.approx(200 / 3)


def test_bad_config_is_named(tokenizer):
    with pytest.raises(ValueError, match="depths"):
        make(depths=[-5])
    with pytest.raises(ValueError, match="passkey_range"):
        make(passkey_range=[10, 1])
    with pytest.raises(ValueError, match="length 32 is too short"):
        list(make(lengths=[32]).samples(tokenizer))


@pytest.mark.slow
def test_passkey_end_to_end_on_the_embedded_model(tmp_path):
    import lampe
    from evals.run.loop import run_benchmark

    model, tokenizer = lampe.load_model("smollm2")
    bench = make(lengths=[1024], depths=[50], num_samples=2)
    metrics = run_benchmark(bench, LanguageModel(model, tokenizer), tmp_path, limit=2, progress=False)
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert len(records) == 2 and metrics["num_samples"] == 2
    assert all(re.search(r"\d", r["prediction"]) for r in records)  # the model answers with a number
    assert metrics["grid"]["1024"]["50"] == metrics["average"]


def test_answer_logprob_is_the_teacher_forced_log_likelihood_of_the_key(tiny_model, tokenizer):
    """One prefill: the first key token's log p from the generation step, the rest as decode steps on
    the cache cut back to the prompt; it must equal a plain forward over prompt + key."""
    import torch

    bench = make(lengths=[512], depths=[50], num_samples=1, answer_logprob=True)
    sample = next(iter(bench.samples(tokenizer)))
    lm = LanguageModel(tiny_model, tokenizer)
    record = bench.evaluate(sample, lm)
    ids, full = lm.prompt_ids(sample), lm.prompt_ids(sample, " " + sample.references[0])
    with torch.no_grad():
        logp = torch.log_softmax(tiny_model(torch.tensor([full])).logits[0].double(), -1)
    expected = sum(logp[i - 1, full[i]].item() for i in range(len(ids), len(full)))
    assert record["meta"]["answer_tokens"] == len(full) - len(ids) >= 2
    assert record["meta"]["answer_logprob"] == pytest.approx(expected, abs=1e-4)
    assert record["prediction"] == lm.generate(sample)[0]  # the greedy answer is unchanged
    assert (record["prompt_format"], record["family"]) == ("official", "chatml")  # what was sent, for whom
    plain = make(lengths=[512], depths=[50], num_samples=1).evaluate(sample, lm)
    assert "answer_logprob" not in plain["meta"] and plain["scores"] == record["scores"]


def test_answer_logprob_must_be_a_boolean():
    with pytest.raises(ValueError, match=r"Invalid benchmark.answer_logprob='yes': expected a boolean \(true or false\)"):
        make(answer_logprob="yes")
