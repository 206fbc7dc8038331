"""Held-out tuning: the dev and test splits of the generated benchmarks never share a key, a needle,
a value, a key position or a prompt; test samples keep the ids (and seeds) they always had."""
from __future__ import annotations

import random

import pytest

from evals.benchmarks.common.haystack import NOISE
from evals.benchmarks.common.splits import (
    SPLITS,
    document_split,
    draw,
    own_position,
    position_split,
    rotate_half,
    value_split,
)
from evals.benchmarks.passkey import TASK
from evals.benchmarks.registry import get_benchmark
from evals.benchmarks.ruler import TASKS

LENGTHS = [512, 1024, 2048]


def both(name: str, tokenizer, **config) -> dict[str, list]:
    return {split: list(get_benchmark(name)(**config, split=split).samples(tokenizer)) for split in SPLITS}


def test_passkey_splits_share_no_key_position_or_prompt(tokenizer):
    found = both("passkey", tokenizer, lengths=LENGTHS, depths=[0, 10, 25, 50, 75, 90, 100], num_samples=3)
    dev, test = found["dev"], found["test"]
    assert len(dev) == len(test) == 3 * 7 * 3
    keys = {split: {s.references[0] for s in found[split]} for split in SPLITS}
    assert not keys["dev"] & keys["test"]
    assert all(value_split(k) == split for split in SPLITS for k in keys[split])
    assert not {s.prompt for s in dev} & {s.prompt for s in test}
    for length in LENGTHS:  # the key never sits after the same number of filler units in both splits
        units = {split: {s.meta["units_before"] for s in found[split] if s.meta["length"] == length}
                 for split in SPLITS}
        assert not units["dev"] & units["test"] and all(u % 2 == 1 for u in units["dev"])
        for s in found["dev"]:
            assert s.prompt.split(TASK + "\n", 1)[1].split("The pass key is", 1)[0].count(NOISE) == s.meta["units_before"]
    assert test[0].id == "passkey-512-0-0" and dev[0].id == "passkey-dev-512-0-0"
    assert not {s.id for s in dev} & {s.id for s in test}


def test_passkey_test_keys_keep_their_seed(tokenizer):
    """A test key is the first draw of the seed the benchmark always used when that draw is a test
    value (passkey-16384-50-0's 43418, a key of the study that the `smollm2` preset was fitted on)."""
    sample = next(iter(get_benchmark("passkey")(lengths=[16384], depths=[50], num_samples=1).samples(tokenizer)))
    assert (sample.id, sample.references) == ("passkey-16384-50-0", ["43418"])


def test_needle_splits_share_no_needle_or_haystack_text(tokenizer):
    found = both("needle", tokenizer, lengths=[512, 1024], depths=[0, 50, 100])
    dev, test = found["dev"], found["test"]
    assert not {s.prompt for s in dev} & {s.prompt for s in test}
    assert all("Dolores Park" in s.prompt and "Lisbon" not in s.prompt for s in test)
    assert all("custard tarts" in s.prompt and "Dolores Park" not in s.prompt for s in dev)
    assert dev[0].references == ["ride the old yellow tram up the hill and eat custard tarts at the top"]
    # the dev haystack is another part of the essays: no 200-character stretch of it in any test prompt
    for s in dev:
        context = s.prompt.split("<context>\n", 1)[1]
        stretches = [context[i:i + 200] for i in range(0, len(context) - 200, 500)]
        assert stretches and not any(x in t.prompt for x in stretches for t in test)
    assert [s.id for s in dev][:1] == ["needle-dev-512-0"] and test[0].id == "needle-512-0"
    assert get_benchmark("needle")(lengths=[512], split="dev").c["question"] == "What is the best thing to do in Lisbon?"


def test_needle_dev_fact_must_differ_from_the_test_fact():
    with pytest.raises(ValueError, match="dev_needle .* other than the test needle"):
        get_benchmark("needle")(split="dev", dev_needle={"needle": "\nThe best thing to do in San Francisco is eat "
                                                                   "a sandwich and sit in Dolores Park on a sunny day.\n"})
    with pytest.raises(ValueError, match="Unknown needle dev_needle key 'fact'"):
        get_benchmark("needle")(split="dev", dev_needle={"fact": "x"})


@pytest.mark.parametrize("name", ["passkey", "needle", "ruler"])
def test_a_bad_split_names_the_choices(name):
    with pytest.raises(ValueError, match=r"Invalid benchmark.split='train'. Valid choices: dev, test"):
        get_benchmark(name)(split="train")


def test_ruler_splits_share_no_key_value_or_prompt(tokenizer):
    tasks = [t for t in TASKS if not t.startswith("qa")]
    found = both("ruler", tokenizer, tasks=tasks, lengths=[1024], num_samples=2)
    bench = get_benchmark("ruler")(tasks=tasks, lengths=[1024])
    content = {split: {k for s in found[split] for k in bench.content_keys(s) if k != "ruler:..."} for split in SPLITS}
    assert len(content["test"]) > 40 and not content["dev"] & content["test"]
    assert not {s.prompt for s in found["dev"]} & {s.prompt for s in found["test"]}
    niah = [s for s in found["dev"] if s.task == "niah_single_1"]
    assert niah[0].id == "niah_single_1-dev-1024-0" and niah[0].meta["keys"]
    # essay haystacks: dev reads another part of the essays
    essay = {split: next(s for s in found[split] if s.task == "niah_single_2") for split in SPLITS}
    middle = essay["dev"].prompt[len(essay["dev"].prompt) // 2:][:300]
    assert middle not in essay["test"].prompt


def test_the_split_rules():
    assert [position_split(n) for n in range(4)] == ["test", "dev", "test", "dev"]
    assert own_position(5, 10, "test") == 6 and own_position(10, 10, "dev") == 9 and own_position(4, 10, "test") == 4
    rng = random.Random(0)
    drawn = [draw(rng, lambda r: r.randint(1, 10**6), "dev") for _ in range(50)]
    assert all(value_split(v) == "dev" for v in drawn)
    with pytest.raises(ValueError, match="no value of split 'dev'"):
        draw(rng, lambda r: "always the same", "dev" if value_split("always the same") == "test" else "test")
    text = "a" * 60 + "\n\n" + "b" * 40  # the first paragraph break after the middle (51)
    assert rotate_half(text) == "b" * 40 + "a" * 60 + "\n\n"
    assert sum(document_split(f"document {i}") == "dev" for i in range(1000)) in range(150, 250)  # one in five


@pytest.mark.parametrize("task", ["passkey", "number_string", "kv_retrieval"])
def test_infinitebench_synthetic_splits_share_no_key_or_prompt(task):
    found = {split: list(get_benchmark("infinitebench")(tasks=[task], lengths=[2048], num_samples=6,
                                                         sizing="official", split=split).samples(None))
             for split in SPLITS}
    dev, test = found["dev"], found["test"]
    assert len(dev) == len(test) == 6
    asked = {split: {k for s in found[split] for k in s.meta["content"]} for split in SPLITS}
    assert not asked["dev"] & asked["test"]
    values = {split: {s.meta["label"] for s in found[split]} for split in SPLITS}  # what each sample asks for
    assert all(value_split(v) == split for split in SPLITS for v in values[split])
    if task == "kv_retrieval":  # the asked key too
        assert all(value_split(s.meta["key"]) == split for split in SPLITS for s in found[split])
    assert not {s.prompt for s in dev} & {s.prompt for s in test}
    assert test[0].id == f"{task}-2048-0" and dev[0].id == f"{task}-dev-2048-0"
    bench = get_benchmark("infinitebench")(tasks=[task], split="dev")
    assert bench.content_keys(dev[0]) == dev[0].meta["content"] and dev[0].meta["content"][0].startswith(task, 14)
