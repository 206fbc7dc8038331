"""Held-out tuning on the data benchmarks: L-Eval's, LongBench's, InfiniteBench's released tasks',
LongBench v2's and BABILong's dev documents (one in five, by the hash of their text) never reach
the test split, copies of a text stay on one side, and
`min_tokens` / `max_tokens` choose documents by their length in the model's tokens."""
from __future__ import annotations

import json

import pytest

from evals.benchmarks.babilong import Babilong
from evals.benchmarks.common.splits import document_split
from evals.benchmarks.infinitebench import InfiniteBench
from evals.benchmarks.leval import LEval
from evals.benchmarks.longbench.benchmark import LongBench
from evals.benchmarks.longbench_v2 import LongBenchV2
from evals.run import runner
from tests.helpers import cfg_for, read_records


def longbench(**options) -> LongBench:
    """LongBench with every task and sample (the small preset's defaults cap them)."""
    return LongBench(**{"tasks": "all", "samples_per_task": None, **options})



def leval(**options) -> LEval:
    """L-Eval with every task, document and question (the small preset's defaults cap them)."""
    return LEval(**{"tasks": "all", "samples_per_task": None, "instructions_per_doc": None,
                    "letter_max_new_tokens": None, **options})



class WordTokenizer:
    """One token per whitespace-separated word."""

    def __call__(self, text, **kwargs):
        return {"input_ids": text.split()}


def doc(text, questions, evaluation="exam"):
    return {"input": text, "instructions": questions, "outputs": ["(A) a"] * len(questions), "evaluation": evaluation}


def texts(split: str, count: int, words: int = 0) -> list[str]:
    """`count` document texts of `split` with `words` more words (found by trying numbered texts)."""
    made = [f"Story number {i} " * 3 + "word " * words for i in range(200)]
    return [t for t in made if document_split(t) == split][:count]


@pytest.fixture
def leval_dir(tmp_path):
    closed = tmp_path / "Closed-ended-tasks"
    closed.mkdir()
    dev, test, long = texts("dev", 2), texts("test", 2), texts("test", 1, words=20)
    docs = [doc(test[0], ["q1"]), doc(dev[0], ["q2"]), doc(test[1], ["q3"]), doc(dev[0], ["q4", "q5"]),
            doc(long[0], ["q6"]), doc(dev[1], ["q7"])]
    (closed / "quality.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    shots = "Question: 1+1?\nThe answer is 2\n\n"
    questions = [f"Question: {i}+1?\n" for i in range(20)]
    (closed / "gsm100.jsonl").write_text("".join(json.dumps(doc(shots, [q])) + "\n" for q in questions))
    return tmp_path, dev, test, questions


def test_leval_test_never_includes_a_dev_document(leval_dir):
    folder, dev, test, _ = leval_dir
    found = {split: list(leval(tasks=["quality"], data_dir=str(folder), split=split).samples()) for split in ("dev", "test")}
    assert [s.id for s in found["test"]] == ["quality:0:0", "quality:2:0", "quality:4:0"]
    # the copy of a dev document (document 3, other questions) is dev too
    assert [s.id for s in found["dev"]] == ["quality:1:0", "quality:3:0", "quality:3:1", "quality:5:0"]
    assert {s.prompt[slice(*s.meta["document_span"])] for s in found["dev"]} == set(dev)
    assert not {s.meta["content"] for s in found["dev"]} & {s.meta["content"] for s in found["test"]}
    bench = leval(tasks=["quality"], data_dir=str(folder))
    assert bench.split == "test" and bench.content_keys(found["test"][0]) == [found["test"][0].meta["content"]]


def test_gsm100_splits_by_its_questions(leval_dir):
    """gsm100's documents share one few-shot text: its questions decide the split."""
    folder, _, _, questions = leval_dir
    found = {split: [s.meta["query"] for s in leval(tasks=["gsm100"], data_dir=str(folder), split=split).samples()]
             for split in ("dev", "test")}
    assert found["dev"] and found["test"] and sorted(found["dev"] + found["test"]) == sorted(questions)
    assert all(document_split(q) == "dev" for q in found["dev"])


def test_leval_selects_documents_by_their_tokens(leval_dir):
    folder, _, test, _ = leval_dir
    bench = leval(tasks=["quality"], data_dir=str(folder), min_tokens=15)
    found = list(bench.samples(WordTokenizer()))
    assert [s.id for s in found] == ["quality:4:0"] and found[0].meta["document_tokens"] == 29
    assert [s.id for s in leval(tasks=["quality"], data_dir=str(folder), max_tokens=10).samples(WordTokenizer())] == [
        "quality:0:0", "quality:2:0"]
    assert [s.id for s in leval(tasks=["quality"], data_dir=str(folder), samples_per_task=1, min_tokens=9)
            .samples(WordTokenizer())] == ["quality:0:0"]
    with pytest.raises(ValueError, match="min_tokens=20 exceeds max_tokens=10"):
        leval(tasks=["quality"], data_dir=str(folder), min_tokens=20, max_tokens=10)
    with pytest.raises(ValueError, match="needs its tokenizer"):
        list(leval(tasks=["quality"], data_dir=str(folder), min_tokens=5).samples())
    with pytest.raises(ValueError, match="Invalid benchmark.split='val'. Valid choices: dev, test"):
        leval(data_dir=str(folder), split="val")


def row(index, context, length=100):
    return {"input": "Question?", "context": context, "answers": ["yes"], "length": length, "all_classes": None,
            "_id": f"qasper-{index}"}


def test_longbench_test_never_includes_a_dev_record(tmp_path):
    dev, test, long = texts("dev", 1), texts("test", 1), texts("test", 1, words=200)
    rows = [row(0, test[0]), row(1, dev[0]), row(2, dev[0]), row(3, long[0])]
    (tmp_path / "qasper.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    found = {split: [s.id for s in longbench(tasks=["qasper"], data_dir=str(tmp_path), split=split).samples()]
             for split in ("dev", "test")}
    assert found == {"dev": ["qasper:qasper-1", "qasper:qasper-2"], "test": ["qasper:qasper-0", "qasper:qasper-3"]}
    long_only = longbench(tasks=["qasper"], data_dir=str(tmp_path), min_tokens=150).samples(WordTokenizer())
    assert [s.id for s in long_only] == ["qasper:qasper-3"]
    with pytest.raises(ValueError, match="min_tokens=9 exceeds max_tokens=3"):
        longbench(tasks=["qasper"], data_dir=str(tmp_path), min_tokens=9, max_tokens=3)
    with pytest.raises(ValueError, match="Invalid benchmark.split='train'"):
        longbench(tasks=["qasper"], data_dir=str(tmp_path), split="train")


# ---- InfiniteBench's released tasks, LongBench v2, BABILong: documents by the hash of their text ----

def test_infinitebench_released_records_split_by_their_document(tmp_path):
    dev, test = texts("dev", 2), texts("test", 2)
    rows = [{"id": i, "context": c, "input": f"q{i}", "answer": [f"a{i}"]}
            for i, c in enumerate([test[0], dev[0], dev[0], test[1], dev[1]])]  # two questions of one book
    (tmp_path / "longbook_qa_eng.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    found = {split: list(InfiniteBench(tasks=["longbook_qa_eng"], data_dir=str(tmp_path), split=split).samples(None))
             for split in ("dev", "test")}
    assert [s.id for s in found["dev"]] == ["longbook_qa_eng-1", "longbook_qa_eng-2", "longbook_qa_eng-4"]
    assert [s.id for s in found["test"]] == ["longbook_qa_eng-0", "longbook_qa_eng-3"]
    keys = {split: {k for s in found[split] for k in s.meta["content"]} for split in found}
    assert not keys["dev"] & keys["test"] and len(keys["dev"]) == 2  # one key per book
    first = InfiniteBench(tasks=["longbook_qa_eng"], data_dir=str(tmp_path), samples_per_task=1, split="dev")
    assert [s.id for s in first.samples(None)] == ["longbook_qa_eng-1"]  # the first of the split


def v2_question(index: int, context: str) -> dict:
    return {"_id": f"q{index}", "domain": "Single-Document QA", "sub_domain": "x", "difficulty": "easy",
            "length": "short", "question": "Which?", "choice_A": "a", "choice_B": "b", "choice_C": "c",
            "choice_D": "d", "answer": "A", "context": context}


def test_longbench_v2_questions_split_by_their_document(tmp_path):
    dev, test = texts("dev", 2), texts("test", 2)
    contexts = [test[0], dev[0], test[1], dev[1], dev[0]]
    (tmp_path / "data.json").write_text(json.dumps([v2_question(i, c) for i, c in enumerate(contexts)]))
    found = {split: list(LongBenchV2(data_dir=str(tmp_path), num_samples=None, split=split).samples())
             for split in ("dev", "test")}
    assert [s.id for s in found["dev"]] == ["longbench_v2:q1", "longbench_v2:q3", "longbench_v2:q4"]
    assert [s.id for s in found["test"]] == ["longbench_v2:q0", "longbench_v2:q2"]
    bench = LongBenchV2(data_dir=str(tmp_path), num_samples=None)
    keys = {split: {k for s in found[split] for k in bench.content_keys(s)} for split in found}
    assert not keys["dev"] & keys["test"]
    assert [s.id for s in LongBenchV2(data_dir=str(tmp_path), num_samples=1, split="dev").samples()] == [
        "longbench_v2:q1"]


def test_babilong_samples_split_by_their_input_and_keep_their_place(tmp_path):
    dev, test = texts("dev", 2), texts("test", 2)
    folder = tmp_path / "0k"
    folder.mkdir()
    inputs = [dev[0], test[0], dev[1], test[1]]
    (folder / "qa1.jsonl").write_text("".join(json.dumps({"input": text, "question": "Where? ", "target": "x"}) + "\n"
                                              for text in inputs))
    found = {split: list(Babilong(tasks=["qa1"], context_lengths=["0k"], samples_per_task=None, data_dir=str(tmp_path),
                                  split=split).samples()) for split in ("dev", "test")}
    assert [s.id for s in found["dev"]] == ["qa1:0k:0", "qa1:0k:2"]  # the place in the release
    assert [s.id for s in found["test"]] == ["qa1:0k:1", "qa1:0k:3"]
    bench = Babilong(tasks=["qa1"], context_lengths=["0k"], data_dir=str(tmp_path))
    keys = {split: {k for s in found[split] for k in bench.content_keys(s)} for split in found}
    assert not keys["dev"] & keys["test"] and len(keys["dev"]) == 2


def test_a_dev_run_records_its_split_and_content_keys(tmp_path, loads):
    """Through the runner: every record says its split and its content (SampleMethod.annotate)."""
    cfg = cfg_for(tmp_path, "benchmark=babilong", "benchmark.data_dir=tests/fixtures/babilong/data",
                  "benchmark.split=dev", "benchmark.context_lengths=[0k]")
    runner.run(cfg)
    run_dir = next((tmp_path / "results" / "smollm2" / "original" / "babilong").iterdir())
    records = read_records(run_dir / "records.jsonl")
    assert [r["id"] for r in records] == ["qa1:0k:1", "qa4:0k:1"]  # the fixture's two dev inputs at 0k
    assert all(r["split"] == "dev" and r["content_keys"] == [r["meta"]["document"]] for r in records)
