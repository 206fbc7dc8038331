"""RULER generation: lengths, determinism, embedded answers, depths, QA data, errors, scoring."""
from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from evals.benchmarks.common.haystack import NOISE
from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.common.splits import value_split
from evals.benchmarks.registry import get_benchmark
from evals.benchmarks.ruler import TASKS
from evals.benchmarks.ruler.generator import fit_size
from evals.benchmarks.ruler.words import key_words, word_lists

SYNTHETIC = [t for t in TASKS if not t.startswith("qa")]
LENGTH = 1024


def make(**config):
    return get_benchmark("ruler")(**{"tasks": SYNTHETIC, "lengths": [LENGTH], "num_samples": 2, **config})


@pytest.fixture(scope="module")
def samples(tokenizer):
    return list(make().samples(tokenizer))


def by_task(samples, task):
    return [s for s in samples if s.task == task]


def test_every_prompt_fits_just_below_the_length_as_the_model_sees_it(samples, tokenizer):
    lm = LanguageModel(None, tokenizer)  # the same chat template and answer prefix as generation
    assert {s.task for s in samples} == set(SYNTHETIC) and len(samples) == 2 * len(SYNTHETIC)
    for s in samples:
        total = len(lm.prompt_ids(s)) + s.max_new_tokens
        assert total == s.meta["prompt_tokens"] + s.max_new_tokens
        assert 0.9 * LENGTH <= total <= LENGTH, (s.id, total)


def test_ids_and_meta_encode_task_length_index_and_depth(samples):
    s = by_task(samples, "niah_single_2")[1]
    assert s.id == f"niah_single_2-{LENGTH}-1"
    assert s.meta["length"] == LENGTH and 0 <= s.meta["depth"] <= 100
    assert by_task(samples, "cwe")[0].meta["depth"] is None


def test_generation_is_deterministic_under_the_seed_and_independent_of_num_samples(samples, tokenizer):
    again = list(make(tasks=["niah_single_1", "vt"], num_samples=1).samples(tokenizer))
    first = {s.id: s for s in samples}
    for s in again:
        assert s.prompt == first[s.id].prompt and s.references == first[s.id].references
    other = list(make(tasks=["niah_single_1"], num_samples=1, seed=7).samples(tokenizer))
    assert other[0].references != first[other[0].id].references


def test_templates_answer_prefixes_and_budgets_are_rulers(samples):
    single = by_task(samples, "niah_single_1")[0]
    assert single.prompt.startswith("A special magic number is hidden within the following text.")
    assert single.answer_prefix.startswith(" The special magic number for ")
    assert single.answer_prefix.endswith(" mentioned in the provided text is")
    multi = by_task(samples, "niah_multivalue")[0]
    assert multi.prompt.startswith("Some special magic numbers are hidden")
    assert multi.answer_prefix.endswith("mentioned in the provided text are")
    budgets = {s.task: s.max_new_tokens for s in samples}
    assert budgets["niah_single_1"] == 128 and budgets["vt"] == 30 and budgets["cwe"] == 120 and budgets["fwe"] == 50


def test_niah_answers_are_embedded_with_their_keys(samples):
    for task in [t for t in SYNTHETIC if t.startswith("niah")]:
        for s in by_task(samples, task):
            keys = re.findall(r"for (.+?) mentioned", s.answer_prefix)[0].replace(", and ", ", ").split(", ")
            for value in s.references:
                assert any(f"for {k} is: {value}." in s.prompt for k in keys), (s.id, value)
    assert len(by_task(samples, "niah_multivalue")[0].references) == 4
    assert len(by_task(samples, "niah_multiquery")[0].references) == 4


def test_noise_haystack_and_depth_of_the_needle(samples):
    s = by_task(samples, "niah_single_1")[0]
    context = s.prompt.split("afterwards.\n", 1)[1].rsplit("\nWhat is", 1)[0]
    lines = context.split("\n")
    needle_line = next(i for i, line in enumerate(lines) if line.startswith("One of the special magic"))
    assert sum(line == NOISE for line in lines) == len(lines) - 1
    assert abs(100 * needle_line / len(lines) - s.meta["depth"]) < 5


def test_essay_needles_sit_at_sentence_boundaries(samples):
    for s in by_task(samples, "niah_multikey_1"):
        assert s.meta["haystack"] == "essay"
        for match in re.finditer(r"One of the special magic numbers for \S+ is: \d+\.", s.prompt):
            before = s.prompt[: match.start()].rstrip()
            assert before.endswith((".", "!", "?", '"', "'", ")", "\n")) or before.endswith("afterwards."), before[-40:]


def test_variable_tracking_chain_and_worked_example(samples):
    s = by_task(samples, "vt")[0]
    value = re.search(r"assigned the value (\d+) in the text above", s.prompt.rsplit("Memorize and track", 1)[1])[1]
    assert f"VAR {s.references[0]} = {value}" in s.prompt
    for prev, var in zip(s.references, s.references[1:]):
        assert f"VAR {var} = VAR {prev}" in s.prompt
    assert s.prompt.count("Memorize and track the chain(s)") == 2  # the worked example first
    assert f"5 variables are assigned the value {value}, they are: " in s.answer_prefix


def test_common_words_are_the_most_frequent_in_the_list(samples):
    for s in by_task(samples, "cwe"):
        main = s.prompt.rsplit("Memorize the ones that appear most often.\n", 1)[1].split("\nQuestion:")[0]
        counts = Counter(re.findall(r"\d+\. (\S+)", main))
        assert len(s.references) == 10
        least_common_answer = min(counts[w] for w in s.references)
        others = [c for w, c in counts.items() if w not in s.references]
        assert least_common_answer > max(others)


def test_cwe_worked_example_is_a_previous_chat_exchange(tokenizer):
    """Under `chat`, RULER's worked example (the whole model template, answer included) is an earlier turn."""
    s = by_task(list(make(tasks=["cwe"], num_samples=1, prompt_format="chat").samples(tokenizer)), "cwe")[0]
    (question, answer), = s.history
    assert question.startswith("Below is a numbered list of words.") and question.endswith("in the above list?")
    assert answer.startswith(s.answer_prefix + " 1. ") and answer.endswith(" 10. " + answer.split()[-1])
    assert s.prompt.count("Below is a numbered list of words.") == 1  # the question alone
    text = tokenizer.decode(LanguageModel(None, tokenizer).prompt_ids(s))
    user, assistant = "<|im_start|>user\n", "<|im_start|>assistant\n"
    assert text.count(user) == 2 and text.count(assistant) == 2
    assert text.index(assistant + answer) < text.rindex(user) < text.rindex(assistant)
    assert text.endswith(assistant + s.answer_prefix)
    raw = tokenizer.decode(LanguageModel(None, tokenizer, chat_template=False).prompt_ids(s))
    assert raw == question + answer + "\n" + s.prompt + s.answer_prefix  # RULER's base template


def test_official_format_is_rulers_template_for_the_family(samples, tokenizer):
    """SmolLM2's ChatML has no RULER template: `official` is RULER's `base`, the bare text."""
    s = by_task(samples, "cwe")[0]
    assert s.prompt_format == "official" and set(s.official) == {"llama2", "llama3"}
    (question, answer), = s.history
    ids = LanguageModel(None, tokenizer).prompt_ids(s)
    assert ids == tokenizer(question + answer + "\n" + s.prompt + s.answer_prefix)["input_ids"]
    with pytest.raises(ValueError, match=r"Invalid benchmark.prompt_format='base'. Valid choices: official, chat, raw"):
        make(prompt_format="base")


def test_frequent_words_are_ranked_two_to_four(samples):
    for s in by_task(samples, "fwe"):
        words = s.prompt.split("coded words. ", 1)[1].split("\nQuestion:")[0].split()
        ranked = [w for w, _ in Counter(words).most_common(4)]
        assert ranked[0] == "..." and sorted(ranked[1:]) == sorted(s.references)


def test_scores_use_rulers_metric_per_task(samples):
    bench = make()
    niah = by_task(samples, "niah_multivalue")[0]
    half = " ".join(niah.references[:2])
    assert bench.score(niah, half) == {"string_match_all": 0.5}
    assert bench.score(niah, "\t" + " ".join(niah.references).upper()) == {"string_match_all": 1.0}


def test_summarize_gives_the_ruler_table():
    bench = make()
    rec = lambda task, n, v: {"task": task, "meta": {"length": n}, "scores": {"string_match_all": v}}  # noqa: E731
    records = [rec("niah_single_1", 4096, 1.0), rec("niah_single_1", 4096, 0.0), rec("vt", 4096, 1.0),
               rec("niah_single_1", 8192, 0.0), rec("vt", 8192, 0.5)]
    table = bench.summarize(records)
    assert table["tasks"] == {"niah_single_1": {"4096": 50.0, "8192": 0.0}, "vt": {"4096": 100.0, "8192": 50.0}}
    assert table["average_per_length"] == {"4096": 75.0, "8192": 25.0}
    assert table["average"] == 50.0 and table["num_samples"] == 5
    assert table["word_source"] == "wonderwords"  # a dependency: RULER's own word lists


def test_unknown_task_and_option_are_named():
    with pytest.raises(ValueError, match="'niah_single_9' is not one. Valid choices: niah_single_1"):
        make(tasks=["niah_single_9"])
    with pytest.raises(ValueError, match="Unknown ruler option 'length'"):
        make(length=4096)
    with pytest.raises(ValueError, match="lengths"):
        make(lengths=[0])


def test_a_length_too_short_for_the_task_is_an_error(tokenizer):
    with pytest.raises(ValueError, match="length 300 is too short"):
        list(make(tasks=["vt"], lengths=[300]).samples(tokenizer))


def test_qa_without_data_names_the_config_key():
    with pytest.raises(ValueError, match="qa_data.squad"):
        make(tasks=["qa_1"])
    with pytest.raises(ValueError, match="qa_data.hotpotqa"):
        make(tasks=["qa_2"], qa_data={"squad": "x"})
    with pytest.raises(FileNotFoundError, match="qa_data.squad"):
        make(tasks=["qa_1"], qa_data={"squad": "/nonexistent/dev-v2.0.json"})


def _squad(path):
    paragraphs = [{"context": f"Paragraph {i} says the color of box {i} is shade{i}.", "qas": [
        {"question": f"What color is box {i}?", "answers": [{"text": f"shade{i}"}], "is_impossible": False},
        {"question": "Unanswerable?", "answers": [], "is_impossible": True}]} for i in range(60)]
    path.write_text(json.dumps({"data": [{"title": "t", "paragraphs": paragraphs}]}))
    return path


def _hotpot(path):
    items = [{"question": f"Who built tower {i}?", "answer": f"builder{i}",
              "context": [[f"Tower {i}", [f"Tower {i} was built by builder{i}. ", "It is tall."]],
                          [f"Town {i}", [f"Town {i} has tower {i}."]]]} for i in range(60)]
    path.write_text(json.dumps(items))
    return path


def test_qa_tasks_mix_the_gold_paragraph_with_distractors(tokenizer, tmp_path):
    data = {"squad": str(_squad(tmp_path / "squad.json")), "hotpotqa": str(_hotpot(tmp_path / "hotpot.json"))}
    bench = make(tasks=["qa_1", "qa_2"], qa_data=data, lengths=[512], num_samples=2)
    found = list(bench.samples(tokenizer))
    assert [s.id for s in found] == ["qa_1-512-0", "qa_2-512-0", "qa_1-512-1", "qa_2-512-1"]
    # the test split asks the questions whose text hashes to test (evals.benchmarks.common.splits.value_split), in order
    box = [i for i in range(60) if value_split(f"What color is box {i}?") == "test"][1]
    squad1 = found[2]
    assert squad1.references == [f"shade{box}"]
    assert f"Paragraph {box} says the color of box {box} is shade{box}." in squad1.prompt
    assert squad1.prompt.endswith(f"Question: What color is box {box}?") and squad1.answer_prefix == " Answer:"
    assert squad1.prompt.count("Document ") > 5 and squad1.max_new_tokens == 32
    tower = [i for i in range(60) if value_split(f"Who built tower {i}?") == "test"][0]
    hotpot = found[1]
    assert f"Tower {tower}\nTower {tower} was built by builder{tower}. It is tall." in hotpot.prompt
    assert bench.score(hotpot, f"builder{tower} or someone") == {"string_match_part": 1.0}
    dev = list(make(tasks=["qa_1"], qa_data=data, lengths=[512], num_samples=3, split="dev").samples(tokenizer))
    assert not {q for s in dev for q in s.meta["keys"]} & {q for s in found for q in s.meta["keys"]}


def test_malformed_qa_json_names_the_file_and_line(tmp_path):
    bad = tmp_path / "squad.json"
    bad.write_text('{"data": [\n  {"title": }\n]}')
    with pytest.raises(ValueError, match=r"squad.json:2"):
        make(tasks=["qa_1"], qa_data={"squad": str(bad)})


def test_missing_haystack_folder_is_an_error_unless_it_is_the_default():
    with pytest.raises(FileNotFoundError, match="no_such_essays"):
        make(haystack="/tmp/no_such_essays")


def test_without_essays_the_essay_tasks_use_the_noise_haystack(tokenizer):
    s = next(iter(make(tasks=["niah_single_2"], haystack=None, num_samples=1).samples(tokenizer)))
    assert s.meta["haystack"] == "noise" and NOISE in s.prompt


def test_word_lists_are_deterministic_and_large_enough():
    nouns, adjectives, verbs, source = word_lists()
    assert source in ("wonderwords", "lampe")
    assert len(nouns) > 400 and len(adjectives) > 300 and len(verbs) > 200
    keys = key_words()
    assert keys == tuple(sorted(keys)) and len(keys) > 100_000 and all("-" in k for k in keys[:10])


def test_fit_size_finds_the_largest_fitting_size():
    calls = []

    def tokens(n):
        calls.append(n)
        return 100 + 7 * n

    assert fit_size(tokens, 1000, start=10) == 128  # 100 + 7 * 128 = 996 <= 1000 < 1003
    assert len(calls) < 12
    assert fit_size(tokens, 1000, start=500) == 128
    assert fit_size(tokens, 50, start=10) is None
    assert fit_size(lambda n: 10 * n, 1000, start=1, tolerance=30) in range(97, 101)


@pytest.mark.slow
def test_ruler_end_to_end_on_the_embedded_model(tmp_path):
    import lampe
    from evals.run.loop import run_benchmark

    model, tokenizer = lampe.load_model("smollm2")
    bench = get_benchmark("ruler")(tasks=["niah_single_1", "vt"], lengths=[2048], num_samples=1)
    metrics = run_benchmark(bench, LanguageModel(model, tokenizer), tmp_path, limit=2, progress=False)
    assert set(metrics["tasks"]) == {"niah_single_1", "vt"} and set(metrics["average_per_length"]) == {"2048"}
    assert 0 <= metrics["average"] <= 100
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["prompt_tokens"] <= 2048 for r in records)
    assert (tmp_path / "metrics.json").exists()
