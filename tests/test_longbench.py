"""LongBench / LongBench-E on small fixtures in the released schema (written here, into tmp_path),
the checkout's shared release files, and the hub's data.zip layout (built here, offline)."""
from __future__ import annotations

import json
import zipfile

import pytest

from evals.benchmarks.base import Sample
from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.common.metrics import METRICS
from evals.benchmarks.longbench import data as longbench_data
from evals.benchmarks.longbench.benchmark import LONGBENCH_E_TASKS, TASKS, LongBench, length_bucket
from evals.benchmarks.registry import get_benchmark
from evals.run.loop import run_benchmark


def longbench(**options) -> LongBench:
    """LongBench with every task and sample (the small preset's defaults cap them)."""
    return LongBench(**{"tasks": "all", "samples_per_task": None, **options})



def row(task, index, context, question, answers, length=1000, language="en", all_classes=None):
    return {"input": question, "context": context, "answers": answers, "length": length, "dataset": task,
            "language": language, "all_classes": all_classes, "_id": f"{task}-{index:04d}"}


TREC_CLASSES = ["Location", "Number", "Human being", "Description"]
FIXTURE = {
    "qasper": [row("qasper", 0, "We train on 10k tweets.", "How big is the data?", ["10k tweets", "10k"]),
               row("qasper", 1, "No baseline is used.", "Is there a baseline?", ["No"])],
    "trec": [row("trec", 0, "Question: Where is Rome?\nType: Location", "Question: How many legs?\nType:",
                 ["Number"], all_classes=TREC_CLASSES)],
    "samsum": [row("samsum", 0, "Dialogue: A: hi\nSummary: A greets.", "Dialogue: B: bye\nSummary:",
                   ["B says goodbye."])],
    "passage_retrieval_en": [row("passage_retrieval_en", 0, "Paragraph 1: cats.\n\nParagraph 2: dogs.",
                                 "Dogs bark.", ["Paragraph 2"])],
    "lcc": [row("lcc", 0, "def f(x):\n    y = x\n", "", ["    return y"], language="python")],
    "multifieldqa_zh": [row("multifieldqa_zh", 0, "北京是中国的首都。", "中国的首都是哪里？", ["北京"], language="zh")],
}


# the shared folder's tasks: three complete release files, the first record of nine more
CHECKOUT_FULL = ["multi_news", "multifieldqa_zh", "passage_retrieval_zh"]
CHECKOUT_FIRST = ["qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "trec", "triviaqa", "samsum", "lcc",
                  "repobench-p"]
needs_checkout = pytest.mark.skipif(not (longbench_data.checkout_dir() / "SHA256SUMS").is_file(),
                                    reason="the shared LongBench folder is not next to this checkout")


@pytest.fixture(autouse=True)
def no_hub(monkeypatch):
    """Every test runs offline unless it lifts this; a hub call would fail the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def never(*args, **kwargs):
        raise AssertionError("the hub was asked")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", never)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def data_dir(tmp_path):
    for task, rows in FIXTURE.items():
        write_jsonl(tmp_path / f"{task}.jsonl", rows)
    # LongBench-E: one qasper sample per length bucket (contexts of the test split: evals.benchmarks.common.splits)
    write_jsonl(tmp_path / "qasper_e.jsonl", [row("qasper", i, f"ctx {c}", "q?", ["yes"], length=n)
                                             for i, (c, n) in enumerate(zip([1, 2, 4], [1200, 5000, 9500]))])
    return tmp_path


class FakeLM:
    """Returns the chosen answer per sample id; records what it was asked."""

    def __init__(self, answers, tokenizer=None, max_length=None):
        self.answers, self.tokenizer, self.max_length, self.seen = answers, tokenizer, max_length, []

    def generate(self, sample):
        self.seen.append(sample)
        return self.answers[sample.id], 100


def test_task_table_is_complete():
    assert len(TASKS) == 21 and len(LONGBENCH_E_TASKS) == 13
    assert all(spec["metric"] in METRICS for spec in TASKS.values())
    assert {t for t, s in TASKS.items() if not s["chat"]} == {"trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p"}
    assert {t for t, s in TASKS.items() if s["first_line"]} == {"trec", "triviaqa", "samsum", "lsht"}
    # dataset2maxlen.json spot checks
    assert [TASKS[t]["max_new_tokens"] for t in ("narrativeqa", "hotpotqa", "gov_report", "lcc")] == [128, 32, 512, 64]
    assert get_benchmark("longbench") is LongBench


def test_prompts_follow_the_official_templates(data_dir):
    samples = {s.id: s for s in longbench(tasks=list(FIXTURE), data_dir=str(data_dir)).samples()}
    qasper = samples["qasper:qasper-0000"]
    assert qasper.prompt.startswith("You are given a scientific article and a question.")
    assert "Article: We train on 10k tweets.\n\n Answer the question based on the above article" in qasper.prompt
    assert qasper.prompt.endswith("Question: How big is the data?\n\nAnswer:")
    assert (qasper.max_new_tokens, qasper.chat, qasper.strip, qasper.stop) == (128, True, False, [])
    assert qasper.references == ["10k tweets", "10k"] and qasper.meta["length"] == 1000
    trec = samples["trec:trec-0000"]
    assert trec.prompt == ("Please determine the type of the question below. Here are some examples of questions."
                           "\n\nQuestion: Where is Rome?\nType: Location\nQuestion: How many legs?\nType:")
    assert (trec.chat, trec.max_new_tokens, trec.meta["all_classes"]) == (False, 64, TREC_CLASSES)
    samsum = samples["samsum:samsum-0000"]
    assert (samsum.stop, samsum.eos_texts) == ([], ["\n"])  # pred.py: the newline token is an extra EOS
    # official by default: Llama-2 chat gets pred.py's [INST] on chat tasks, nothing on the six raw ones
    assert qasper.prompt_format == trec.prompt_format == "official"
    assert qasper.official == {"llama2": ["[INST]", "[/INST]"]} and trec.official == {}
    assert samples["lcc:lcc-0000"].prompt == "Please complete the code given below. \ndef f(x):\n    y = x\nNext line of code:\n"
    assert samples["multifieldqa_zh:multifieldqa_zh-0000"].prompt.endswith("问题：中国的首都是哪里？\n回答：")


def test_samples_per_task_and_task_selection(data_dir):
    bench = longbench(tasks=["qasper", "trec"], samples_per_task=1, data_dir=str(data_dir))
    assert [s.id for s in bench.samples()] == ["qasper:qasper-0000", "trec:trec-0000"]
    assert longbench(tasks="qasper", data_dir=str(data_dir)).tasks == ["qasper"]
    # the default list runs the tasks with data and names the others once, with how to get them
    with pytest.warns(UserWarning, match=r"no data for multifieldqa_en, hotpotqa, .*repobench-p: .*"
                      r"multifieldqa_en_e.jsonl.*data.zip.*sha256sum -c --ignore-missing"):
        assert longbench(longbench_e=True, data_dir=str(data_dir)).tasks == ["qasper"]


def test_prompt_format_is_checked_and_recorded(data_dir):
    with pytest.raises(ValueError, match=r"Invalid benchmark.prompt_format='chatml'. Valid choices: official, chat, raw"):
        longbench(tasks=["qasper"], data_dir=str(data_dir), prompt_format="chatml")
    bench = longbench(tasks=["qasper"], data_dir=str(data_dir), prompt_format="raw")
    record = bench.evaluate(next(iter(bench.samples())), FakeLM({"qasper:qasper-0000": "10k"}))
    assert (record["prompt_format"], record["family"]) == ("raw", None)  # FakeLM names no family


def test_samsum_ends_at_the_newline_token_after_one_new_token(data_dir, tokenizer):
    """pred.py: eos = [EOS, the newline token], min_length = prompt + 1; the answer may open with
    "\n\n" (another token) and the first line after the leading newlines is scored."""
    from tests.scripted_model import scripted_llama

    bench = longbench(tasks=["samsum"], data_dir=str(data_dir))
    sample = next(iter(bench.samples()))
    prompt_ids = LanguageModel(None, tokenizer).prompt_ids(sample)
    newline, blank_line = tokenizer("\n", add_special_tokens=False)["input_ids"], tokenizer("\n\n")["input_ids"]
    assert len(newline) == len(blank_line) == 1 and newline != blank_line
    answer = tokenizer("B says goodbye.", add_special_tokens=False)["input_ids"]
    script = newline + blank_line + answer + newline + answer  # a newline first is refused (min length)
    lm = LanguageModel(scripted_llama(len(tokenizer), script, len(prompt_ids)), tokenizer)
    assert lm.eos_ids(sample) == [tokenizer.eos_token_id, newline[0]]
    prediction, _ = lm.generate(sample)
    assert prediction.startswith("\n\nB says goodbye.") and prediction.count("B says") == 1
    assert bench.score(sample, prediction)["rouge"] == pytest.approx(1.0)


def test_official_truncation_counts_the_bos_as_pred_py_does():
    """pred.py tokenizes with special tokens before cutting: the BOS takes one of the first half's places."""
    from tests.family_tokenizers import llama2_chat

    tok = llama2_chat()
    lm = LanguageModel(model=None, tokenizer=tok, max_length=8)
    text = "ab cd ef gh ij"
    with_bos, bare = tok(text)["input_ids"], tok(text, add_special_tokens=False)["input_ids"]
    assert with_bos == [1] + bare and len(bare) == 15  # "▁ab▁cd..." one token per character
    official = tok.decode(with_bos[:4], skip_special_tokens=True) + tok.decode(with_bos[-4:], skip_special_tokens=True)
    own = tok.decode(bare[:4], skip_special_tokens=True) + tok.decode(bare[-4:], skip_special_tokens=True)
    assert (official, own) == ("abh ij", "ab h ij")
    assert lm.truncate_middle(text, special_tokens=True) == official  # official: pred.py's count
    assert lm.truncate_middle(text) == own  # chat and raw: lampe's count of the text's own tokens


def test_truncation_and_chat_template_through_language_model(data_dir, tokenizer):
    lm = LanguageModel(model=None, tokenizer=tokenizer, max_length=64)
    long_context = " ".join(f"word{i}" for i in range(400))
    raw = Sample(id="t", task="trec", prompt=f"START {long_context} END", references=["x"], max_new_tokens=4, chat=False)
    ids = lm.prompt_ids(raw)
    full = lm.encode(raw.prompt)
    assert len(ids) == 64 and ids == full[:32] + full[-32:]  # middle cut, no chat wrapper
    chat = Sample(id="q", task="qasper", prompt=f"START {long_context} END", references=["x"], max_new_tokens=4)
    text = tokenizer.decode(lm.prompt_ids(chat))
    assert text.count("<|im_start|>user") == 1 and text.rstrip().endswith("<|im_start|>assistant")
    assert "START" in text and "END" in text and "word200" not in text


def test_scoring_uses_first_line_and_best_reference(data_dir):
    bench = longbench(tasks=list(FIXTURE), data_dir=str(data_dir))
    samples = {}
    for sample in bench.samples():
        samples.setdefault(sample.task, sample)  # the first sample of each task
    assert bench.score(samples["trec"], "\nNumber\nLocation") == {"classification": 1.0}  # first line only
    assert bench.score(samples["trec"], "Number or Location") == {"classification": 0.5}
    assert bench.score(samples["qasper"], "10k") == {"qa_f1": 1.0}  # max over ["10k tweets", "10k"]
    assert bench.score(samples["passage_retrieval_en"], "Paragraph 2") == {"retrieval": 1.0}
    assert bench.score(samples["lcc"], "    return y\n") == {"code_sim": 1.0}


def test_run_and_summary_with_a_fake_model(data_dir, tmp_path):
    bench = longbench(tasks=list(FIXTURE), data_dir=str(data_dir))
    answers = {
        "qasper:qasper-0000": "10k tweets",      # 1.0
        "qasper:qasper-0001": "yes",             # 0.0  -> qasper 50
        "trec:trec-0000": "Number\nLocation",    # 1.0  -> trec 100
        "samsum:samsum-0000": "B says goodbye.", # rouge 1.0
        "passage_retrieval_en:passage_retrieval_en-0000": "Paragraph 1",  # 0
        "lcc:lcc-0000": "    return y",          # 100
        "multifieldqa_zh:multifieldqa_zh-0000": "北京",  # 100
    }
    lm = FakeLM(answers)
    metrics = run_benchmark(bench, lm, tmp_path / "out", progress=False)
    tasks = {task: next(iter(v.values())) for task, v in metrics["tasks"].items()}
    assert tasks == pytest.approx({"qasper": 50.0, "multifieldqa_zh": 100.0, "trec": 100.0, "samsum": 100.0,
                                   "passage_retrieval_en": 0.0, "lcc": 100.0}, abs=1e-4)
    assert metrics["groups"] == pytest.approx({"single_doc_qa": 75.0, "few_shot": 100.0, "synthetic": 0.0,
                                               "code": 100.0}, abs=1e-4)
    en = metrics["by_language"]["en"]["groups"]
    assert en == pytest.approx({"single_doc_qa": 50.0, "few_shot": 100.0, "synthetic": 0.0, "code": 100.0}, abs=1e-4)
    assert metrics["by_language"]["zh"]["average"] == pytest.approx(100.0, abs=1e-4)  # single-doc zh + code
    assert metrics["average"] == pytest.approx(450 / 6, abs=1e-4)
    assert metrics["num_samples"] == 7
    assert metrics["data_sources"] == dict.fromkeys(tasks, ["data_dir"])
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == metrics
    # a rerun resumes: nothing is generated again
    again = FakeLM(answers)
    assert run_benchmark(bench, again, tmp_path / "out", progress=False) == metrics and again.seen == []


def test_longbench_e_scores_by_length_bucket(data_dir, tmp_path):
    bench = longbench(tasks=["qasper"], data_dir=str(data_dir), longbench_e=True)
    samples = list(bench.samples())
    assert [s.id for s in samples] == ["qasper_e:qasper-0000", "qasper_e:qasper-0001", "qasper_e:qasper-0002"]
    lm = FakeLM({samples[0].id: "yes", samples[1].id: "no", samples[2].id: "yes"})
    metrics = run_benchmark(bench, lm, tmp_path / "out", progress=False)
    assert metrics["tasks"]["qasper"]["qa_f1"] == pytest.approx(200 / 3)
    assert metrics["length_buckets"] == {"qasper": {"0-4k": 100.0, "4-8k": 0.0, "8k+": 100.0}}
    assert metrics["length_bucket_average"] == {"0-4k": 100.0, "4-8k": 0.0, "8k+": 100.0}
    assert [length_bucket(n) for n in (0, 3999, 4000, 7999, 8000)] == ["0-4k", "0-4k", "4-8k", "4-8k", "8k+"]


def test_bad_input_is_named(data_dir, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="Unknown LongBench task 'qaspr'.*narrativeqa"):
        longbench(tasks=["qaspr"])
    with pytest.raises(ValueError, match="Unknown LongBench-E task 'dureader'"):
        longbench(tasks=["dureader"], longbench_e=True)
    with pytest.raises(ValueError, match="Unknown longbench option 'sample_per_task'"):
        longbench(sample_per_task=2)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        longbench(tasks=["qasper"], data_dir=str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="no data for hotpotqa: hotpotqa.jsonl not in data_dir.*data.zip"):
        longbench(tasks=["qasper", "hotpotqa"], data_dir=str(data_dir))  # named: an error, before any model
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "qasper.jsonl").write_text(json.dumps(FIXTURE["qasper"][0]) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"qasper.jsonl:2: malformed JSON"):
        list(longbench(tasks=["qasper"], data_dir=str(bad)).samples())
    broken = dict(FIXTURE["qasper"][0])
    del broken["answers"]
    (bad / "qasper.jsonl").write_text(json.dumps(broken) + "\n")
    with pytest.raises(ValueError, match=r"qasper.jsonl:1: LongBench sample lacks field\(s\) answers"):
        list(longbench(tasks=["qasper"], data_dir=str(bad)).samples())
    (bad / "qasper.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="holds no samples"):
        list(longbench(tasks=["qasper"], data_dir=str(bad)).samples())


def test_hub_is_asked_once_and_never_offline(tmp_path, monkeypatch):
    """No data_dir and nothing in the checkout: the hub's data.zip, unless offline mode is set."""
    monkeypatch.setattr(longbench_data, "CHECKOUT", str(tmp_path / "no-checkout"))
    with pytest.raises(FileNotFoundError, match="no data for qasper.*offline mode is set.*data.zip.*data_dir"):
        longbench(tasks=["qasper"])  # the autouse hub stub would fail the test if it were called
    calls = []

    def unreachable(*args, **kwargs):
        calls.append(args)
        raise ConnectionError("no network")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr("huggingface_hub.hf_hub_download", unreachable)
    with pytest.raises(FileNotFoundError, match="no data for qasper.*ConnectionError: no network.*set benchmark.data_dir"):
        longbench(tasks=["qasper"])
    assert calls == [("THUDM/LongBench", "data.zip")]


def test_hub_path_reads_a_zip_in_the_release_layout(tmp_path, monkeypatch):
    """What a user without the checkout gets: data.zip from the hub (data/<task>.jsonl inside)."""
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for task in ("trec", "qasper"):
            zipped.writestr(f"data/{task}.jsonl", "".join(json.dumps(r) + "\n" for r in FIXTURE[task]))
        zipped.writestr("data/qasper_e.jsonl", json.dumps(row("qasper", 0, "ctx", "q?", ["yes"], length=5000)) + "\n")
    asked = []

    def download(repo, filename, repo_type):
        asked.append((repo, filename, repo_type))
        return str(archive)

    monkeypatch.setattr(longbench_data, "CHECKOUT", str(tmp_path / "no-checkout"))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr("huggingface_hub.hf_hub_download", download)
    bench = longbench(tasks=["trec", "qasper"])
    assert asked == [("THUDM/LongBench", "data.zip", "dataset")]  # once, at construction
    samples = list(bench.samples())
    assert [s.id for s in samples] == ["trec:trec-0000", "qasper:qasper-0000", "qasper:qasper-0001"]
    assert samples[0].references == ["Number"] and {s.meta["data"] for s in samples} == {"hub"}
    assert bench.check_data()["trec"] == f"{archive}!data/trec.jsonl"
    with pytest.warns(UserWarning, match="no data for multifieldqa_en.*the hub's data.zip lacks them"):
        e = longbench(longbench_e=True)
    assert e.tasks == ["qasper"] and next(e.samples()).meta["length"] == 5000


@needs_checkout
def test_checkout_data_without_data_dir():
    """The shared folder: complete files first, then first records; the default list runs those."""
    with pytest.warns(UserWarning) as caught:
        bench = longbench()
    messages = [str(w.message) for w in caught]
    assert bench.tasks == [t for t in TASKS if t in CHECKOUT_FULL + CHECKOUT_FIRST]
    missing = [t for t in TASKS if t not in bench.tasks]
    assert len(missing) == 9 and any(
        ", ".join(missing) in m and "offline mode is set" in m and "data.zip" in m and "sha256sum" in m
        for m in messages)
    assert any(m.startswith("LongBench: " + ", ".join(t for t in TASKS if t in CHECKOUT_FIRST) + " read only the "
                            "first record") for m in messages)
    assert {t: s.kind for t, s in bench.sources.items() if t in CHECKOUT_FULL} == dict.fromkeys(CHECKOUT_FULL,
                                                                                               "release")
    counts = {}
    for sample in bench.samples():
        counts[sample.task] = counts.get(sample.task, 0) + 1
    # the test split: one record in five (by its context's hash) is dev; triviaqa's first record is a dev one
    assert counts == {"multi_news": 169, "multifieldqa_zh": 164, "passage_retrieval_zh": 156,
                      **{t: 1 for t in bench.tasks if t in CHECKOUT_FIRST and t != "triviaqa"}}
    dev = {}
    for sample in longbench(split="dev").samples():
        dev[sample.task] = dev.get(sample.task, 0) + 1
    assert dev == {"multi_news": 31, "multifieldqa_zh": 36, "passage_retrieval_zh": 44, "triviaqa": 1}
    with pytest.raises(FileNotFoundError, match=r"no data for gov_report: gov_report.jsonl not in .*longbench "
                                                r"\(nor its first_records/\); the hub is not asked"):
        longbench(tasks=["qasper", "gov_report"])
    with pytest.warns(UserWarning, match="first record"):
        qasper = next(longbench(tasks=["qasper"]).samples())
    assert qasper.meta["data"] == "first_record" and qasper.references and "Answer:" in qasper.prompt


@needs_checkout
def test_release_files_verify_against_sha256sums(tmp_path):
    folder = longbench_data.checkout_dir()
    assert longbench_data.verify_release(folder) == {f"{t}.jsonl": True for t in CHECKOUT_FULL}
    (tmp_path / "trec.jsonl").write_text("{}\n")
    assert longbench_data.verify_release(tmp_path) == {"trec.jsonl": False}
    assert longbench_data.main([str(folder)]) == 0 and longbench_data.main([str(tmp_path)]) == 1


@pytest.mark.slow
def test_end_to_end_on_the_embedded_model(data_dir, tmp_path):
    import lampe

    model, tokenizer = lampe.load_model("smollm2")
    lm = LanguageModel(model, tokenizer, max_length=512)
    # one chat task and one raw task, both with short answers (32 / 64 new tokens)
    bench = longbench(tasks=["passage_retrieval_en", "trec"], samples_per_task=1, data_dir=str(data_dir))
    metrics = run_benchmark(bench, lm, tmp_path / "run", progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    assert [r["task"] for r in records] == ["passage_retrieval_en", "trec"]
    assert all(r["prompt_tokens"] > 10 and isinstance(r["prediction"], str) for r in records)
    assert set(metrics["tasks"]) == {"passage_retrieval_en", "trec"}
    assert all(0.0 <= next(iter(v.values())) <= 100.0 for v in metrics["tasks"].values())
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == metrics


@needs_checkout
@pytest.mark.parametrize("preset", ["longbench", "longbench_full", "longbench_e"])
def test_presets_build_the_benchmark(preset, data_dir, recwarn):
    from omegaconf import OmegaConf

    from evals.files.paths import REPO_ROOT

    config = OmegaConf.to_container(OmegaConf.load(REPO_ROOT / "conf" / "benchmark" / f"{preset}.yaml"))
    assert config.pop("name") == "longbench" and config.pop("max_length") > 0
    if preset == "longbench_e":
        config["data_dir"] = str(data_dir)  # no LongBench-E data is shared: a fixture
    bench = get_benchmark("longbench")(**config)
    expected = {"longbench": ["qasper", "hotpotqa", "multi_news", "trec", "passage_retrieval_zh", "lcc"],
                "longbench_full": [t for t in TASKS if t in CHECKOUT_FULL + CHECKOUT_FIRST],
                "longbench_e": ["qasper"]}[preset]
    assert bench.tasks == expected and bench.longbench_e == (preset == "longbench_e")
