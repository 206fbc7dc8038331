"""BABILong: the scorer against the published evaluation files of booydar/babilong, its prompts
against the released rendering, and the benchmark on a small fixture in the release's schema.
Expected values come from the official files and code (at 7a6efee), worked out by hand."""
from __future__ import annotations

import csv
import json

import pytest

from evals.benchmarks.babilong import Babilong
from evals.benchmarks.babilong.benchmark import TASKS, format_input
from evals.benchmarks.babilong.metrics import compare_answers
from evals.benchmarks.common.splits import content_key
from evals.benchmarks.registry import get_benchmark
from evals.files.paths import REPO_ROOT

pytestmark = pytest.mark.usefixtures("every_document_is_test")  # the fixture whole (splits: their own tests)

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "babilong"
DATA = FIXTURES / "data"
# notebooks/draw_evals.ipynb at e7f8fd8, cell 8: Phi-3-mini-128k-instruct, accuracy (%) of 100 samples
PUBLISHED = {"qa1": {"0k": 97, "64k": 38, "128k": 1}, "qa2": {"0k": 57, "64k": 15, "128k": 2},
             "qa3": {"0k": 32, "64k": 22, "128k": 4}, "qa4": {"0k": 53, "64k": 44, "128k": 5},
             "qa5": {"0k": 74, "64k": 55, "128k": 23}}


@pytest.fixture(autouse=True)
def no_hub(monkeypatch):
    """`datasets` is never asked unless a test lifts this."""
    def never(*args, **kwargs):
        raise AssertionError("the hub was asked")

    monkeypatch.setattr("datasets.load_dataset", never)


# ---- the scorer against the published evaluation files ----------------------------------------------

def published_rows(task: str, length: str) -> list[dict]:
    """One published CSV (pandas' index column, target, output, question); an empty output is ""
    as pandas' fillna('') leaves it (the files hold no other value pandas reads as missing)."""
    path = FIXTURES / "published" / f"{task}_{length}_instruction_yes_examples_yes_post_prompt_yes.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("task, length", [(t, n) for t in PUBLISHED for n in PUBLISHED[t]])
def test_scorer_reproduces_the_published_accuracy(task, length):
    rows = published_rows(task, length)
    assert len(rows) == 100
    right = sum(compare_answers(r["target"], r["output"], r["question"], TASKS[task]["labels"]) for r in rows)
    assert right == PUBLISHED[task][length]  # 100 samples: the published percent is the count


@pytest.mark.parametrize("task, target, reply, question, right", [
    ("qa1", "bathroom", "The most recent location of Mary is bathroom.", "Where is Mary? ", True),
    ("qa1", "bathroom", "Bathroom. Then the kitchen", "Where is Mary?", True),  # cut at the first "."
    ("qa1", "bathroom", "bathroom or kitchen", "Where is Mary?", False),  # two labels named
    ("qa1", "office", "office <example> kitchen", "Where is Mary?", True),  # cut at "<example>"
    ("qa1", "office", "office question: kitchen", "Where is Mary?", False),  # "Question" never cuts (lower-cased)
    ("qa3", "garden", "The apple was in the kitchen before the garden.", "Where was the apple before the kitchen?",
     True),  # labels in the question never count
    ("qa5", "Bill", "bill", "Who received the milk?", True),  # case-insensitive
    ("qa7", "none", "none", "How many objects is Mary carrying?", False),  # "none" also names "one"
    ("qa7", "two", "two", "How many objects is Mary carrying?", True),
    ("qa8", "apple,milk", "apple, milk", "What is Mary carrying?", True),  # several labels: all and only them
    ("qa8", "apple,milk", "apple", "What is Mary carrying?", False),
    ("qa8", "apple,milk", "milk, apple and football", "What is Mary carrying?", False),
    ("qa19", "s,e", "s,e", "How do you go from the kitchen to the garden?", True),  # a direction pair is a label
    ("qa19", "s,e", "n,w", "How do you go from the kitchen to the garden?", False),
    ("qa1", "balcony", "balcony", "Where is Mary?", False),  # a target among no label
])
def test_compare_answers_cases(task, target, reply, question, right):
    assert compare_answers(target, reply, question, TASKS[task]["labels"]) is right


# ---- prompts ------------------------------------------------------------------------------------------

# notebooks/babilong_evaluation_example.ipynb, cell 11: get_formatted_input for qa1's first 0k sample
RELEASED_QA1 = (
    "I will give you context with the facts about positions of different persons hidden in some random text and a "
    "question. You need to answer the question based only on the information from the facts. If a person was in "
    "different locations, use the latest location to answer the question.\n\n<example>\nCharlie went to the hallway. "
    "Judith come back to the kitchen. Charlie travelled to balcony. Where is Charlie?\nAnswer: The most recent "
    "location of Charlie is balcony.\n</example>\n\n<example>\nAlan moved to the garage. Charlie went to the beach. "
    "Alan went to the shop. Rouse travelled to balcony. Where is Alan?\nAnswer: The most recent location of Alan is "
    "shop.\n</example>\n\nAlways return your answer in the following format: The most recent location of ’person’ is "
    "’location’. Do not write anything else after that.\n\n<context>\nJohn travelled to the hallway. Mary journeyed "
    "to the bathroom. Daniel went back to the bathroom. John moved to the bedroom.\n</context>\n\n"
    "Question: Where is Mary?")
QA1_INPUT = ("John travelled to the hallway. Mary journeyed to the bathroom. Daniel went back to the bathroom. "
             "John moved to the bedroom.")


def test_prompt_is_the_released_rendering():
    assert format_input("qa1", QA1_INPUT, "Where is Mary? ") == RELEASED_QA1


def test_prompt_parts_switch_off_as_the_flags_do():
    # the template's blank lines stay between the parts left, and the whole text is stripped
    assert format_input("qa1", " facts ", "Where? ", parts=()) == "<context>\nfacts\n</context>\n\nQuestion: Where?"
    instruction, post = TASKS["qa2"]["instruction"], TASKS["qa2"]["post_prompt"]
    assert format_input("qa2", "f", "q", parts=("instruction", "post_prompt")) == (
        f"{instruction}\n\n\n\n{post}\n\n<context>\nf\n</context>\n\nQuestion: q")


# ---- the benchmark on the fixture ---------------------------------------------------------------------

class ScriptedLM:
    def __init__(self, replies):
        self.replies, self.asked, self.family = list(replies), [], "chatml"

    def generate(self, sample):
        self.asked.append(sample)
        return self.replies.pop(0), 7


def test_samples_span_tasks_then_lengths():
    bench = Babilong(data_dir=str(DATA), tasks=["qa1", "qa4"], context_lengths=["0k", "4k"])
    samples = list(bench.samples())
    assert [s.id for s in samples] == ["qa1:0k:0", "qa4:0k:0", "qa1:0k:1", "qa4:0k:1",
                                       "qa1:4k:0", "qa4:4k:0", "qa1:4k:1", "qa4:4k:1"]
    first = samples[0]
    assert first.references == ["office"] and first.max_new_tokens == 20 and first.prompt_format == "official"
    assert first.meta == {"length": 0, "length_name": "0k", "question": "Where is Mary? ",
                          "document": content_key("document", "Mary moved to the bathroom. John went to the hallway. "
                                                              "Mary travelled to the office.")}
    assert samples[4].meta["length"] == 4000
    assert first.prompt == format_input("qa1", "Mary moved to the bathroom. John went to the hallway. Mary travelled "
                                               "to the office.", "Where is Mary? ")


def test_run_and_summary():
    bench = Babilong(data_dir=str(DATA), context_lengths=["0k", "4k"], samples_per_task=1)
    # order: 0k qa1..qa5, then 4k qa1..qa5 (targets office, kitchen, kitchen, office, Bill)
    replies = ["The most recent location of Mary is office.", "The football is in the kitchen.", "garden",
               "The office is north of the garden.", "Bill.",
               "office", "The football is in the kitchen or the garden.", "kitchen", "", "Bill"]
    lm = ScriptedLM(replies)
    records = [bench.evaluate(s, lm) for s in bench.samples()]
    assert [r["scores"]["accuracy"] for r in records] == [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    assert {s.prompt_format for s in lm.asked} == {"chat"}  # the script applies the model's template
    assert {r["prompt_format"] for r in records} == {"official"}
    metrics = bench.summarize(records)
    assert metrics["tasks"]["qa3"] == {"0": 0.0, "4000": 100.0} and metrics["tasks"]["qa2"] == {"0": 100.0, "4000": 0.0}
    assert metrics["average_per_length"] == {"0": 80.0, "4000": 60.0}
    assert metrics["qa1_qa5_average_per_length"] == {"0": 80.0, "4000": 60.0} and metrics["average"] == 70.0
    assert metrics["length_names"] == {"0": "0k", "4000": "4k"} and metrics["num_samples"] == 10
    partial = Babilong(data_dir=str(DATA), tasks=["qa1"], context_lengths=["0k"], samples_per_task=1)
    assert "qa1_qa5_average_per_length" not in partial.summarize(records[:1])  # only where all five ran


# ---- data ----------------------------------------------------------------------------------------------

def test_parquet_layouts_of_the_hub_copies(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"input": "Mary went to the office.", "question": "Where is Mary?", "target": "office"}]
    for layout in ("4k/qa1-00000-of-00001.parquet", "qa2/4k-00000-of-00001.parquet", "4k/qa3/0000.parquet",
                   "qa4/4k/0000.parquet"):
        (tmp_path / layout).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / layout)
    bench = Babilong(data_dir=str(tmp_path), tasks=["qa1", "qa2", "qa3", "qa4"], context_lengths=["4k"])
    assert [s.id for s in bench.samples()] == ["qa1:4k:0", "qa2:4k:0", "qa3:4k:0", "qa4:4k:0"]


def test_missing_split_names_data_dir_and_layouts():
    with pytest.raises(FileNotFoundError, match=r"no qa6 at 0k under benchmark.data_dir=.*0k/qa6.jsonl"):
        Babilong(data_dir=str(DATA), tasks=["qa6"], context_lengths=["0k"])


def test_bad_rows_are_named(tmp_path):
    (tmp_path / "0k").mkdir()
    (tmp_path / "0k" / "qa1.jsonl").write_text(json.dumps({"input": "x", "question": "q"}) + "\n")
    with pytest.raises(ValueError, match=r"qa1.jsonl:1: BABILong sample lacks text field\(s\) target"):
        Babilong(data_dir=str(tmp_path), tasks=["qa1"], context_lengths=["0k"])


def test_hub_through_datasets(monkeypatch):
    calls = []

    def load_dataset(name, config, split):
        calls.append((name, config, split))
        return [{"input": "Mary went to the office.", "question": "Where is Mary?", "target": "office"}]

    monkeypatch.setattr("datasets.load_dataset", load_dataset)
    bench = Babilong(tasks=["qa1"], context_lengths=["0k", "2k"], dataset="RMT-team/babilong-1k-samples")
    assert calls == [("RMT-team/babilong-1k-samples", "0k", "qa1"), ("RMT-team/babilong-1k-samples", "2k", "qa1")]
    assert bench.sources["qa1:2k"] == "RMT-team/babilong-1k-samples:2k:qa1"


def test_offline_without_data_names_the_option(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'RMT-team/babilong' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr("datasets.load_dataset", offline)
    with pytest.raises(FileNotFoundError, match=r"benchmark.data_dir is not set and RMT-team/babilong \(0k, qa1\)"):
        Babilong(tasks=["qa1"], context_lengths=["0k"])


@pytest.mark.parametrize("config, message", [
    ({"tasks": ["qa21"]}, r"Invalid benchmark.tasks=\['qa21'\]: 'qa21' is not one. Valid choices: all, qa1, qa2"),
    ({"tasks": []}, r"Invalid benchmark.tasks=\[\]: give at least one"),
    ({"context_lengths": ["3k"]}, r"'3k' is not one. Valid choices: 0k, 1k, 2k, 4k"),
    ({"samples_per_task": 0}, r"Invalid benchmark.samples_per_task=0"),
    ({"examples": "yes"}, r"Invalid benchmark.examples='yes': expected a boolean"),
    ({"prompt_format": "qwen"}, r"Invalid benchmark.prompt_format='qwen'. Valid choices: official, chat, raw"),
    ({"lengths": [4096]}, r"Unknown babilong option 'lengths'. Valid: max_length, tasks, context_lengths"),
])
def test_bad_options_are_named(config, message):
    with pytest.raises(ValueError, match=message):
        Babilong(data_dir=str(DATA), **config)


def test_all_tasks_and_presets():
    import yaml

    assert get_benchmark("babilong") is Babilong
    with pytest.raises(FileNotFoundError, match="no qa6 at 0k"):  # "all" is qa1-qa20; the fixture has qa1-qa5
        Babilong(data_dir=str(DATA), tasks="all", context_lengths=["0k"])
    for preset in ("babilong", "babilong_full"):
        config = yaml.safe_load((REPO_ROOT / "conf" / "benchmark" / f"{preset}.yaml").read_text())
        assert config.pop("name") == "babilong" and config.pop("max_length") is None
        assert set(config) == {o.name for o in Babilong.options} - {"max_length"}
    small = yaml.safe_load((REPO_ROOT / "conf" / "benchmark" / "babilong.yaml").read_text())
    bench = Babilong(**{**small, "data_dir": str(DATA)})
    assert len(list(bench.samples())) == 20
