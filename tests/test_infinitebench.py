"""InfiniteBench: options, the prompts of released records, the synthetic construction, data
loading and the summary (scorers: test_infinitebench_scoring.py; token ids per family:
test_conformance_infinitebench.py)."""
from __future__ import annotations

import json
import random
import re

import pytest

from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.infinitebench import TASKS, InfiniteBench, synthetic
from evals.benchmarks.infinitebench.prompts import answer, prompt_parts
from evals.benchmarks.infinitebench.synthetic import NOISE, SyntheticTask
from evals.benchmarks.registry import get_benchmark

pytestmark = pytest.mark.usefixtures("every_document_is_test")  # the fixture whole (splits: their own tests)

SYNTHETIC = ["passkey", "number_string", "kv_retrieval"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test asks the hub: huggingface_hub reads only its local cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def small(**options) -> InfiniteBench:
    return InfiniteBench(**{"tasks": SYNTHETIC, "lengths": [1024], "num_samples": 2, "sizing": "official", **options})


# ---- options -------------------------------------------------------------------------------

def test_registered_with_twelve_tasks():
    assert get_benchmark("infinitebench") is InfiniteBench
    assert len(TASKS) == 12 and [t for t in TASKS if TASKS[t].synthetic] == SYNTHETIC


@pytest.mark.parametrize("options, message", [
    ({"tasks": ["passkeys"]}, "Unknown InfiniteBench task 'passkeys'. Valid: all, passkey, number_string"),
    ({"sizing": "exact"}, "Invalid benchmark.sizing='exact'. Valid choices: official, fit"),
    ({"prompt_format": "plain"}, "Invalid benchmark.prompt_format='plain'. Valid choices: official, chat, raw"),
    ({"num_samples": 0}, "Invalid benchmark.num_samples=0: expected an integer >= 1 or null"),
    ({"lengths": [4096, -1]}, "Invalid benchmark.lengths=[4096, -1]: expected a list of integers >= 1 (-1 is not one)"),
    ({"sample": 3}, "Unknown infinitebench option 'sample'. Valid: max_length, tasks, lengths, num_samples"),
    ({"tasks": ["passkey", "passkey"]}, "names a task twice"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        small(**options)


def test_presets_build_and_the_small_one_is_synthetic():
    bench = InfiniteBench()  # the small preset's values (tests/test_benchmark_options.py)
    assert bench.tasks == SYNTHETIC and bench.sample_count() == 6 and not bench.lazy_samples  # listed once
    full = small(tasks=SYNTHETIC, lengths=[131072], num_samples=None, sizing="official")
    assert full.sample_count() == 590 + 590 + 500 and full.lazy_samples  # the paper's setting streams


# ---- prompts of released records -----------------------------------------------------------

OPTIONS = ["Walking Georgie", "Snowfield", "Maple", "Harbor"]


@pytest.mark.parametrize("task, row, text, label", [
    ("code_run", {"context": "def func_1(x):\n    return x + 2\n",
                  "input": "Please give me the exact number of the return value of func_1(-3). Your response should "
                           "end with the sentence 'The return value is:'.", "answer": -1},
     "There is a function called func_1 in the following Python code.\n\ndef func_1(x):\n    return x + 2\n\n\n"
     "Please compute the exact value of func_1(-3). The value of func_1(-3) is", -1),
    ("math_find", {"context": "[3, 9, 1]", "input": "You should answer with only one number, no other words. The "
                   "second largest number of the list is: ", "answer": [3]},
     "What is the second largest number in the following list?\n\n[3, 9, 1]\n\nYou should answer with only one "
     "number, no other words. The second largest number of the list is: ", [3]),
    ("longbook_choice_eng", {"context": "BOOK {x}", "input": "Who walks?", "options": OPTIONS,
                             "answer": ["Snowfield"]},
     "Read the book and answer the question.\n\nBOOK {x}\n\nQuestion: Who walks?\nA. Walking Georgie\nB. Snowfield\n"
     "C. Maple\nD. Harbor\n\nThe letter of the correct answer is", ["Snowfield", "B"]),
    ("code_debug", {"context": "CODE", "input": "", "options": OPTIONS, "answer": "Harbor"},
     "Following is a Python code where exactly one of the functions/methods has a deliberate error that makes it "
     "crash.\n\nCODE\n\nOptions:\nA. Walking Georgie\nB. Snowfield\nC. Maple\nD. Harbor\n\nThe correct option is:",
     ["Harbor", "D"]),
    ("longbook_qa_chn", {"context": "书", "input": "谁？", "answer": ["商老太"]},
     "阅读以下书籍然后回答问题。\n\n书\n\n问题：谁？\n答案：", ["商老太"]),
    ("math_calc", {"context": "1 + 2 - 3", "input": "ignored", "answer": [3, 0]},
     "Let us calculate the intermediate values of an expression.\n\nExpression: 1 + 3 + 4\nValues: [1, 4, 8]\n\n"
     "Expression: 8 - 3 + 2 - 4\nValues: [8, 5, 7, 3]\n\nExpression: 1 + 2 - 3\nValues:", [3, 0]),
    ("longdialogue_qa_eng", {"context": "ACE: hi\n$$MASK$$: yo", "input": "", "answer": ["GINGER"]},
     "Below is a dialogue script where one random occurrence of a character name is replaced with \"$$MASK$$\", and "
     "you should try to guess who that character is.\n\nACE: hi\n$$MASK$$: yo\n\nThe name that has been replaced "
     "with $$MASK$$ is likely", ["GINGER"]),
])
def test_released_record_prompts(task, row, text, label):
    """create_prompt's rules (eval_utils.py:102-226), the expected texts filled by hand."""
    assert prompt_parts(task, row)[0] == text
    assert answer(task, row) == label


def test_bad_records_are_named():
    row = {"context": "c", "input": "no call here", "answer": 1, "_where": "code_run.jsonl:7"}
    with pytest.raises(ValueError, match="code_run.jsonl:7: code_run input names no call"):
        prompt_parts("code_run", row)
    with pytest.raises(ValueError, match="lacks field"):
        prompt_parts("longbook_qa_eng", {"context": "c"})
    row = {"context": "c", "input": "q", "options": OPTIONS, "answer": "Nowhere", "_where": "x:1"}
    with pytest.raises(ValueError, match="x:1: longbook_choice_eng answer 'Nowhere' is not one of the options"):
        answer("longbook_choice_eng", row)


# ---- synthetic construction ------------------------------------------------------------------

class Scripted(random.Random):
    """randint answers from a script and checks its bounds, to state the construction's draws."""

    def __init__(self, answers):
        super().__init__(0)
        self.answers = list(answers)
        self.bounds = []

    def randint(self, low, high):
        self.bounds.append((low, high))
        return self.answers.pop(0)


def test_digit_sequence_doubles_five_digits_in_place():
    rng = Scripted([1, 2, 3, 4, 5, 4, 5, 0, 7, 2])
    assert synthetic.digit_sequence(rng) == "1122345555"
    assert rng.bounds == [(0, 9)] * 5 + [(0, 4), (0, 5), (0, 6), (0, 7), (0, 8)]


def test_pass_key_is_five_digits_each_drawn_alone():
    rng = Scripted([0, 7, 1, 4, 3])
    assert synthetic.pass_key(rng) == "07143" and rng.bounds == [(0, 9)] * 5


def test_official_sizes_are_the_scripts_table():
    assert [synthetic.official_size("passkey", 1024 * k) for k in (8, 16, 32, 64, 128, 256)] == \
        [326, 652, 1305, 2610, 5220, 10440]
    assert [synthetic.official_step(1024 * k) for k in (8, 16, 32, 64, 128, 256)] == [6, 12, 22, 45, 90, 180]
    assert synthetic.official_size("kv_retrieval", 131072) == 2500 and synthetic.official_size("kv_retrieval", 65536) == 928
    assert synthetic.official_size("passkey", 4096) == 163 and synthetic.official_size("kv_retrieval", 4096) == 78


def test_released_layout_at_128k():
    """590 passkey samples: 59 needle places (0, 90, ..., 5220) x 10; 500 kv samples asking every
    5th of 2500 pairs; sample 10 is the second place's first."""
    passkey = SyntheticTask("passkey", 131072, seed=1)
    assert passkey.size == 5220 and passkey.places() == list(range(0, 5221, 90)) and passkey.official_count() == 590
    record = passkey.record(10, 590)
    assert record["meta"]["place"] == 90
    assert record["context"] == NOISE * 90 + f"The pass key is {record['answer']}. Remember it. " \
        f"{record['answer']} is the pass key.\n" + NOISE * 5130
    kv = SyntheticTask("kv_retrieval", 131072, seed=1)
    assert kv.size == 2500 and kv.official_count() == 500
    assert [kv.record(c, 500)["meta"]["place"] for c in (0, 1, 499)] == [0, 5, 2495]


def test_kv_record_is_the_official_text():
    pairs = [("k1", "v1"), ("k2", "v2")]
    assert synthetic.kv_record(pairs, 1) == {"context": 'JSON data:\n{"k1": "v1", "k2": "v2"}',
                                             "input": '\nKey: "k2"\nThe value associated with the specified key is: ',
                                             "answer": "v2"}
    key = synthetic.uuid4(random.Random(3))
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", key)


def test_samples_are_seeded():
    a, b = SyntheticTask("number_string", 8192, seed=5), SyntheticTask("number_string", 8192, seed=5)
    assert a.record(3, 10) == b.record(3, 10)
    assert a.record(3, 10)["answer"] == a.record(3, 20)["answer"]  # a sample's key does not depend on n
    assert SyntheticTask("number_string", 8192, seed=6).record(3, 10)["answer"] != a.record(3, 10)["answer"]
    kv = SyntheticTask("kv_retrieval", 8192, seed=5)
    assert kv.record(1, 4) == SyntheticTask("kv_retrieval", 8192, seed=5).record(1, 4)
    assert kv.record(1, 4)["answer"] != kv.record(2, 4)["answer"]


@pytest.mark.parametrize("task", SYNTHETIC)
def test_fit_fills_the_length(task, tokenizer):
    """sizing=fit: every prompt plus the task's budget fits the length, and one more line or
    pair would not fit the probe."""
    bench = small(tasks=[task], lengths=[2048], sizing="fit", num_samples=3)
    lm = LanguageModel(None, tokenizer)
    budget = 2048 - TASKS[task].max_new_tokens
    samples = bench.sample_list(tokenizer)
    assert len(samples) == 3
    assert all(len(lm.prompt_ids(s)) <= budget for s in samples)
    generator = bench.generator(task, 2048, tokenizer)
    grown = generator._build(generator.size + 1, 0, 1, random.Random(synthetic.derive_seed(generator.seed, "probe")))
    assert generator.tokens(grown) > budget
    depths = [s.meta["depth"] for s in samples]
    assert depths == sorted(depths) and depths[0] == 0.0 and len(set(depths)) == 3


def test_too_short_a_length_is_named(tokenizer):
    with pytest.raises(ValueError, match="Invalid benchmark.lengths: InfiniteBench kv_retrieval at 64 tokens"):
        small(tasks=["kv_retrieval"], lengths=[64], sizing="fit").sample_list(tokenizer)


def test_synthetic_order_spans_tasks_then_lengths(tokenizer):
    ids = [s.id for s in small(lengths=[1024, 2048]).sample_list(tokenizer)]
    assert ids[:3] == ["passkey-1024-0", "number_string-1024-0", "kv_retrieval-1024-0"]
    assert len(ids) == 12 and ids[6] == "passkey-2048-0"


# ---- released data ---------------------------------------------------------------------------

def write(folder, task, rows):
    folder.mkdir(exist_ok=True)
    (folder / f"{task}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def test_released_tasks_read_data_dir(tmp_path):
    write(tmp_path, "longbook_qa_eng", [{"id": i, "context": "c", "input": f"q{i}", "answer": [f"a{i}"]}
                                         for i in range(3)])
    bench = InfiniteBench(tasks=["passkey", "longbook_qa_eng"], lengths=[1024], num_samples=1, samples_per_task=2,
                          sizing="official", data_dir=str(tmp_path))
    samples = list(bench.samples(None))
    assert [s.id for s in samples] == ["passkey-1024-0", "longbook_qa_eng-0", "longbook_qa_eng-1"]
    assert samples[1].meta["data"] == "data_dir" and samples[1].references == ["a0"]
    assert bench.score(samples[2], "the a1") == {"qa_f1": 1.0}


def test_a_named_task_without_data_names_the_option(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no longbook_sum_eng.jsonl in data_dir .*benchmark.data_dir="):
        InfiniteBench(tasks=["longbook_sum_eng"], data_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"offline mode is set .*set benchmark.data_dir=/path/to/folder"):
        InfiniteBench(tasks=["code_run"])


def test_all_offline_runs_the_synthetic_tasks_and_says_what_is_missing():
    with pytest.warns(UserWarning, match=r"no data for longbook_sum_eng, .*code_debug .*running passkey, "
                                         r"number_string, kv_retrieval\. To get"):
        bench = InfiniteBench(tasks="all", lengths=[1024], num_samples=1)
    assert bench.tasks == SYNTHETIC


def test_bad_data_dir_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="InfiniteBench data_dir .* is not a directory"):
        InfiniteBench(tasks=["code_run"], data_dir=str(tmp_path / "nowhere"))


# ---- records and summary -----------------------------------------------------------------------

def test_summary_per_task_per_length(tmp_path):
    write(tmp_path, "math_find", [{"context": "[1]", "input": "The largest number of the list is: ", "answer": [1]}])
    bench = InfiniteBench(tasks=["passkey", "math_find"], lengths=[1024, 2048], num_samples=2, sizing="official",
                          data_dir=str(tmp_path))
    records = []
    for sample in bench.samples(None):
        right = sample.task == "math_find" or sample.meta["length"] == 1024 or sample.id.endswith("-0")
        prediction = sample.meta["label"] if right else "0"
        prediction = str(prediction[0] if isinstance(prediction, list) else prediction)
        records.append(bench.record(sample, prediction, 10))
    metrics = bench.summarize(records)
    assert metrics["tasks"] == {"passkey": {"1024": 100.0, "2048": 50.0}, "math_find": {"accuracy": 100.0}}
    assert metrics["average"] == 87.5 and metrics["average_per_length"] == {"1024": 100.0, "2048": 50.0}
    assert metrics["counts"] == {"passkey": 4, "math_find": 1} and metrics["data_sources"] == {"math_find": ["data_dir"]}
    assert records[0]["meta"]["label"] == records[0]["references"][0] and records[0]["prompt_format"] == "official"


@pytest.mark.slow
def test_end_to_end_on_the_embedded_model(tmp_path):
    import lampe
    from evals.run.loop import run_benchmark

    model, tokenizer = lampe.load_model("smollm2")
    bench = small(lengths=[1024], num_samples=1, sizing="fit")
    metrics = run_benchmark(bench, LanguageModel(model, tokenizer), tmp_path, progress=False)
    assert set(metrics["tasks"]) == set(SYNTHETIC) and set(metrics["average_per_length"]) == {"1024"}
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["prompt_tokens"] <= 1024 for r in records)
