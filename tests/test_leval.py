"""L-Eval: prompts, document cutting, scoring and summary on a tmp fixture; loading the shared files."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from evals.benchmarks.leval import DEFAULT_DATA_DIR, SPEC, LEval, truncate_document
from evals.benchmarks.registry import get_benchmark
from evals.files.paths import resolve_data_path
from evals.run.loop import run_benchmark


def leval(**options) -> LEval:
    """L-Eval with every task, document and question (the small preset's defaults cap them)."""
    return LEval(**{"tasks": "all", "samples_per_task": None, "instructions_per_doc": None,
                    "letter_max_new_tokens": None, **options})


SYSTEM = SPEC["system"]


def doc(text, pairs, evaluation="exam", source="src"):
    return {"input": text, "instructions": [q for q, _ in pairs], "outputs": [a for _, a in pairs],
            "source": source, "evaluation": evaluation}


def write(path, docs):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))


@pytest.fixture
def data_dir(tmp_path):
    """Every document here is a test document (evals.benchmarks.common.splits.document_split)."""
    closed, open_ = tmp_path / "Closed-ended-tasks", tmp_path / "Open-ended-tasks"
    write(closed / "quality.jsonl", [
        doc("The hall is red.", [("What colour?\n (A) blue\n (B) red", "(B) red"), ("Where?\n (A) hall", "(A) hall")]),
        doc("Second story.", [("Who?\n (A) me", "(A) me")]),
    ])
    write(closed / "coursera.jsonl", [doc("Lecture text.", [("Pick all.\nA. x\nB. y\nC. z", "AC")])])
    write(closed / "sci_fi.jsonl", [doc("Sirius story.", [(
        "1.\tPeople fly, True or False? Answer this question based on the world described in the document.",
        "True [fact: False]")])])
    write(closed / "gsm100.jsonl", [doc("Question: 1+1?\nLet's think step by step\n1+1=2\nThe answer is 2\n\n",
                                        [("Question: 2+3?\nLet's think step by step\n", "5")])])
    write(open_ / "news_summ.jsonl", [
        doc("News text.", [("Please summarize these news articles.", "the cat sat on the mat")], "rouge"),
        doc("Judged by people.", [("Summarize.", "x")], "human"),
    ])
    write(open_ / "scientific_qa.jsonl", [doc("Paper body.", [("What data?", "ten thousand tweets")], "f1")])
    return tmp_path


class WordTokenizer:
    """Counts whitespace-separated words as tokens (enough for document cutting)."""

    def __call__(self, text, **kwargs):
        return {"input_ids": text.split()}


class FakeLM:
    def __init__(self, answer, max_length=None):
        self.answer, self.max_length, self.tokenizer, self.seen = answer, max_length, WordTokenizer(), []

    def generate(self, sample):
        self.seen.append(sample)
        return self.answer(sample), 7


def test_task_selection(data_dir):
    assert get_benchmark("leval") is LEval
    assert leval(data_dir=str(data_dir)).tasks == ["coursera", "quality", "sci_fi", "gsm100", "news_summ", "scientific_qa"]
    assert leval(tasks="closed", data_dir=str(data_dir)).tasks == ["coursera", "quality", "sci_fi", "gsm100"]
    assert leval(tasks="open", data_dir=str(data_dir)).tasks == ["news_summ", "scientific_qa"]
    with pytest.raises(ValueError, match="Unknown L-Eval task 'qualty'.*quality"):
        leval(tasks=["qualty"], data_dir=str(data_dir))
    with pytest.raises(FileNotFoundError, match="'tpo' has no data file.*present: coursera"):
        leval(tasks=["tpo"], data_dir=str(data_dir))
    with pytest.raises(FileNotFoundError, match="benchmark.data_dir=.* not found"):
        leval(data_dir=str(data_dir / "missing"))
    with pytest.raises(ValueError, match="Unknown leval option 'instructions_per_document'"):
        leval(data_dir=str(data_dir), instructions_per_document=2)


OFFICIAL_HEAD = "[INST]<<SYS>>\n{system}\n<</SYS>>\n\n"  # llama2-chat-test.py: B_INST + B_SYS + sys + E_SYS


def test_official_prompts_are_llama2_chat_tests_text(data_dir):
    """Every family gets llama2-chat-test.py's message (the system prompt with its trailing space),
    the turn closed by [/INST] except gsm100's, which continues its few-shot text."""
    samples = {s.id: s for s in leval(data_dir=str(data_dir)).samples()}
    quality = samples["quality:0:0"]
    assert quality.prompt == (OFFICIAL_HEAD.format(system=SYSTEM["exam"]) + "Document is as follows. The hall is "
                              "red. \nQuestion: What colour?\n (A) blue\n (B) red.  Please directly give the answer "
                              "without any additional output or explanation [/INST]")
    assert (quality.answer_prefix, quality.prompt_format, quality.official) == ("\nAnswer:", "official", {})
    assert quality.prompt[slice(*quality.meta["document_span"])] == "The hall is red."
    gsm = samples["gsm100:0:0"]
    assert gsm.prompt == (OFFICIAL_HEAD.format(system=SYSTEM["gsm100"]) + "Question: 1+1?\nLet's think step by "
                          "step\n1+1=2\nThe answer is 2\n\n\n\nQuestion: 2+3?\nLet's think step by step\n")
    assert gsm.answer_prefix == "" and gsm.max_new_tokens == 512  # LEval_config.py: 512 for every task
    news = samples["news_summ:0:0"]
    assert news.prompt == (OFFICIAL_HEAD.format(system=SYSTEM["open"]) + "Document is as follows. News text. "
                           "Instruction: Please summarize these news articles. \nAnswer this question with 6 "
                           "words.[/INST]")
    assert "news_summ:1:0" not in samples  # a document for human judges has no automatic metric


def test_chat_prompts_open_a_user_turn_with_the_system_prompt(data_dir):
    samples = {s.id: s for s in leval(data_dir=str(data_dir), prompt_format="chat").samples()}
    quality = samples["quality:0:0"]
    assert quality.prompt == (SYSTEM["exam"].rstrip() + "\n\nDocument is as follows. The hall is red. \nQuestion: "
                              "What colour?\n (A) blue\n (B) red.  Please directly give the answer without any "
                              "additional output or explanation ")
    assert (quality.answer_prefix, quality.chat, quality.max_new_tokens) == ("\nAnswer:", True, 512)
    assert quality.references == ["(B) red"] and quality.meta["evaluation"] == "exam"
    assert quality.prompt[slice(*quality.meta["document_span"])] == "The hall is red."
    assert samples["coursera:0:0"].prompt.startswith(SYSTEM["coursera"].rstrip() + "\n\nDocument is as follows.")
    gsm = samples["gsm100:0:0"]
    assert not gsm.chat and gsm.answer_prefix == ""
    assert gsm.prompt.endswith("The answer is 2\n\n\n\nQuestion: 2+3?\nLet's think step by step\n")
    news = samples["news_summ:0:0"]
    assert news.prompt.endswith("Document is as follows. News text. Instruction: Please summarize these news "
                                "articles. \nAnswer this question with 6 words.")
    assert news.prompt.startswith(SYSTEM["open"].rstrip()) and news.chat
    raw = next(leval(tasks=["quality"], data_dir=str(data_dir), prompt_format="raw").samples())
    assert (raw.prompt, raw.prompt_format) == (quality.prompt, "raw")


def test_budgets_are_512_and_the_letter_tasks_may_be_capped(data_dir):
    bench = leval(data_dir=str(data_dir), letter_max_new_tokens=32)
    budgets = {s.task: s.max_new_tokens for s in bench.samples()}
    assert budgets == {"coursera": 32, "quality": 32, "sci_fi": 32, "gsm100": 512, "news_summ": 512,
                       "scientific_qa": 512}
    assert {s.max_new_tokens for s in leval(data_dir=str(data_dir), max_new_tokens=64).samples()} == {64}
    with pytest.raises(ValueError, match=r"Invalid benchmark.letter_max_new_tokens=0: expected an integer >= 1 or null"):
        leval(data_dir=str(data_dir), letter_max_new_tokens=0)
    with pytest.raises(ValueError, match=r"Invalid benchmark.prompt_format='llama2'. Valid choices: official, chat, raw"):
        leval(data_dir=str(data_dir), prompt_format="llama2")


def test_inline_prompts_go_through_the_scripts_str_format(tmp_path):
    """llama2-chat-test.py formats gsm100/codeU/topic messages with the document already in them:
    doubled braces halve, any other brace leaves the message as it was."""
    write(tmp_path / "Closed-ended-tasks" / "gsm100.jsonl",
          [doc("Use {{x}} here.", [("Q?", "1")]), doc("Use {x} here.", [("Q?", "1")])])
    bench = leval(tasks=["gsm100"], data_dir=str(tmp_path))
    doubled, single = (bench.script_formatted(s) for s in bench.samples())
    assert "Use {x} here." in doubled.prompt and "Use {x} here." in single.prompt
    chat = next(leval(tasks=["gsm100"], data_dir=str(tmp_path), prompt_format="chat").samples())
    assert bench.script_formatted(chat) is chat  # lampe's own formats send the text as it is


def test_documents_and_instructions_per_task(data_dir):
    ids = [s.id for s in leval(tasks=["quality"], samples_per_task=1, instructions_per_doc=1,
                               data_dir=str(data_dir)).samples()]
    assert ids == ["quality:0:0"]
    ids = [s.id for s in leval(tasks=["quality"], data_dir=str(data_dir)).samples()]
    assert ids == ["quality:0:0", "quality:0:1", "quality:1:0"]
    assert next(leval(tasks=["quality"], max_new_tokens=16, data_dir=str(data_dir)).samples()).max_new_tokens == 16


def test_truncate_document_follows_leval():
    count = lambda text: len(text.split())  # noqa: E731
    words = " ".join(f"w{i}" for i in range(10))
    assert truncate_document(words, 4, count) == "w0 w1 w2 w3"
    assert truncate_document(words, 4, count, keep="end") == "w6 w7 w8 w9"  # codeU keeps the end
    assert truncate_document(words, 10, count) == words
    # two tokens a word: the first cut keeps 4 words (8 tokens), the next keeps 4 - 250 -> none
    assert truncate_document(words, 4, lambda t: 2 * len(t.split())) == ""


def test_document_is_cut_to_max_length_minus_512(data_dir):
    bench = leval(tasks=["quality"], data_dir=str(data_dir))
    sample = next(bench.samples())
    lm = FakeLM(lambda s: "B", max_length=512 + 3)
    fitted = bench.fit_document(sample, lm)
    assert "Document is as follows. The hall is \nQuestion: What colour?" in fitted.prompt
    assert fitted.meta["document_cut"] and fitted.prompt[slice(*fitted.meta["document_span"])] == "The hall is"
    assert bench.fit_document(sample, FakeLM(None, max_length=None)) is sample
    with pytest.raises(ValueError, match="above 512"):
        bench.fit_document(sample, FakeLM(None, max_length=400))


def test_sci_fi_asks_again_without_the_document(data_dir, tmp_path):
    bench = leval(tasks=["sci_fi"], data_dir=str(data_dir))
    lm = FakeLM(lambda s: "False" if s.id.endswith(":fact") else "True")
    metrics = run_benchmark(bench, lm, tmp_path / "out", progress=False)
    main, fact = lm.seen
    assert main.chat and not fact.chat and fact.answer_prefix == ""
    assert fact.prompt == ("1.\tPeople fly, True or False? Answer this question based on the real-world knowledge "
                           "and facts up until your last trainingPlease directly answer without any additional "
                           "output or explanation. \nAnswer:")
    record = json.loads((tmp_path / "out" / "records.jsonl").read_text())
    assert record["prediction"] == "True [fact: False]"
    assert record["scores"] == {"exact_match": 1.0, "loyalty": 1.0, "fact": 1.0}
    assert metrics["tasks"]["sci_fi"] == {"exact_match": 100.0, "loyalty": 100.0, "fact": 100.0}
    with pytest.raises(ValueError, match="fact"):
        bench.score(main, "True")


def test_scores_and_summary_with_a_fake_model(data_dir, tmp_path):
    answers = {
        "quality:0:0": "B",            # right
        "quality:0:1": "B",            # wrong (A)
        "quality:1:0": "A",            # right -> quality 2/3
        "coursera:0:0": "A",           # subset of AC -> 0.25
        "sci_fi:0:0": "False",         # loyalty wrong; fact "True" wrong -> 0
        "sci_fi:0:0:fact": "True",
        "gsm100:0:0": "2+3=5\nThe answer is 5\n\nQuestion: next",  # right
        "news_summ:0:0": "the cat sat",  # rouge1 = rougeL = 2*1*0.5/1.5 = 2/3; rouge2 = 2*1*0.4/1.4 = 4/7
        "scientific_qa:0:0": "ten tweets",  # F1: P=1, R=2/3 -> 0.8
    }
    lm = FakeLM(lambda s: answers[s.id])
    metrics = run_benchmark(leval(data_dir=str(data_dir)), lm, tmp_path / "out", progress=False)
    tasks = metrics["tasks"]
    assert tasks["quality"]["exact_match"] == pytest.approx(200 / 3)
    assert tasks["coursera"]["exact_match"] == pytest.approx(25.0)
    assert tasks["sci_fi"]["exact_match"] == 0.0
    assert tasks["gsm100"]["exact_match"] == 100.0
    r1, r2, rl = 200 / 3, 400 / 7, 200 / 3
    assert tasks["news_summ"] == pytest.approx({"rougeL": rl, "rouge1": r1, "rouge2": r2,
                                                "rouge_geometric_mean": (r1 * r2 * rl) ** (1 / 3)})
    assert list(tasks["news_summ"])[0] == "rougeL"
    assert tasks["scientific_qa"] == pytest.approx({"f1": 80.0})
    closed = (200 / 3 + 25 + 0 + 100) / 4
    assert metrics["closed_ended_average"] == pytest.approx(closed)
    assert metrics["open_ended_average"] == pytest.approx((rl + 80) / 2)
    assert metrics["average"] == pytest.approx((closed * 4 + rl + 80) / 6)
    assert metrics["counts"] == {"coursera": 1, "quality": 3, "sci_fi": 1, "gsm100": 1, "news_summ": 1,
                                 "scientific_qa": 1}
    assert metrics["average_tasks"] == {"closed_ended_average": ["coursera", "quality", "sci_fi", "gsm100"],
                                        "open_ended_average": ["news_summ", "scientific_qa"],
                                        "average": ["coursera", "quality", "sci_fi", "gsm100", "news_summ",
                                                    "scientific_qa"]}
    assert metrics["average_missing"]["closed_ended_average"] == ["tpo", "topic_retrieval_longchat", "codeU"]
    assert "narrative_qa" in metrics["average_missing"]["open_ended_average"]


def test_topic_retrieval_averages_its_three_question_positions(tmp_path):
    """auto_eval.py scores the 1st/2nd/3rd-topic questions apart and reports their mean."""
    questions = [(f"What is the {n} topic we discussed?", t) for n, t in
                 (("first", "Art"), ("second", "Space travel"), ("third", "Social media"))]
    write(tmp_path / "Closed-ended-tasks" / "topic_retrieval_longchat.jsonl",
          [doc("USER: I would like to discuss the topic of art.", questions),
           doc("USER: I would like to discuss the topic of tea.", [("What is the first topic we discussed?", "Tea")])])
    bench = leval(tasks=["topic_retrieval_longchat"], data_dir=str(tmp_path))
    sample = next(bench.samples())
    assert sample.chat and sample.answer_prefix == "" and not sample.strip
    assert sample.prompt.startswith(OFFICIAL_HEAD.format(system=SYSTEM["topic_retrieval_longchat"]) + "USER: I would")
    assert sample.prompt.endswith("What is the first topic we discussed?[/INST]")
    answers = {"topic_retrieval_longchat:0:0": "art", "topic_retrieval_longchat:0:1": "Cooking",
               "topic_retrieval_longchat:0:2": "The topic was social media.", "topic_retrieval_longchat:1:0": "Tea"}
    metrics = run_benchmark(bench, FakeLM(lambda s: answers[s.id]), tmp_path / "out", progress=False)
    # first 2/2, second 0/1, third 1/1: (100 + 0 + 100) / 3, not 3 of 4 questions
    assert metrics["tasks"]["topic_retrieval_longchat"] == pytest.approx(
        {"exact_match": 200 / 3, "first": 100.0, "second": 0.0, "third": 100.0})
    assert metrics["closed_ended_average"] == pytest.approx(200 / 3)


class ScriptedModel(torch.nn.Module):
    """Answers every prompt with the same token ids, as a model's generate would."""

    def __init__(self, answer_ids):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.answer_ids = answer_ids

    def generate(self, input_ids, **kwargs):
        return torch.cat([input_ids, torch.tensor([self.answer_ids])], dim=1)


def test_the_generation_is_scored_as_generated(data_dir, tokenizer):
    """coursera's parser reads the leading space: " AB C" means "B"; stripped, "AB C" means "AB"."""
    from evals.benchmarks.common.lm import LanguageModel

    bench = leval(tasks=["coursera"], data_dir=str(data_dir))
    sample = next(bench.samples())
    assert not sample.strip and not bench.fact_sample(sample).strip
    lm = LanguageModel(ScriptedModel(tokenizer(" AB C", add_special_tokens=False)["input_ids"]), tokenizer)
    prediction, _ = lm.generate(sample)
    assert prediction == " AB C"
    assert bench.score(dataclasses.replace(sample, references=["B"]), prediction) == {"exact_match": 1.0}
    assert bench.score(dataclasses.replace(sample, references=["B"]), prediction.strip()) == {"exact_match": 0.0}


def test_malformed_files_are_reported_with_file_and_line(tmp_path):
    path = tmp_path / "Closed-ended-tasks" / "tpo.jsonl"
    write(path, [doc("text", [("q", "A")])])
    with path.open("a") as handle:
        handle.write("{broken\n")
    with pytest.raises(ValueError, match=r"tpo.jsonl:2: malformed JSON"):
        list(leval(data_dir=str(tmp_path)).samples())
    write(path, [{"input": "t", "instructions": ["a", "b"], "outputs": ["A"], "evaluation": "exam"}])
    with pytest.raises(ValueError, match=r"tpo.jsonl:1: 2 instructions but 1 outputs"):
        list(leval(data_dir=str(tmp_path)).samples())
    write(path, [{"input": "t", "instructions": ["a"], "evaluation": "exam"}])
    with pytest.raises(ValueError, match=r"tpo.jsonl:1: L-Eval document lacks field\(s\) outputs"):
        list(leval(data_dir=str(tmp_path)).samples())


def test_shared_leval_files_load_and_build_prompts():
    data = resolve_data_path(DEFAULT_DATA_DIR)
    if not data.is_dir():
        pytest.skip(f"shared L-Eval data not found at {data}")
    bench = leval()  # the default data_dir is the shared folder
    assert {"coursera", "quality", "tpo", "sci_fi", "gsm100", "news_summ", "tv_show_summ"} <= set(bench.tasks)
    samples = list(bench.samples())
    counts = {}
    for sample in samples:
        counts[sample.task] = counts.get(sample.task, 0) + 1
    # every instruction of the closed-ended files' test documents; open-ended documents for human/LLM
    # judges dropped; with the dev split's, every instruction (quality 202, tpo 269, gsm100 100)
    assert (counts["quality"], counts["tpo"], counts["gsm100"], counts["gov_report_summ"]) == (159, 235, 75, 13)
    dev = list(leval(split="dev").samples())
    assert len(samples) + len(dev) == 1775 + 150 and len(dev) == 362
    assert not {s.meta["content"] for s in dev} & {s.meta["content"] for s in samples}
    quality = dev[[s.task for s in dev].index("quality")]  # quality's first document is a dev one
    assert quality.prompt.startswith(OFFICIAL_HEAD.format(system=SYSTEM["exam"]) + "Document is as follows. LOST    IN"
                                     "    TRANSLATION")
    assert quality.references[0].startswith("(B) Their subconscious")
    assert {s.meta["evaluation"] for s in samples if s.task in ("financial_qa", "review_summ")} == {"f1", "rouge"}


@pytest.mark.slow
def test_end_to_end_on_the_embedded_model(tmp_path):
    import lampe
    from evals.benchmarks.common.lm import LanguageModel

    model, tokenizer = lampe.load_model("smollm2")
    lm = LanguageModel(model, tokenizer, max_length=1536)  # documents cut to 1024 tokens
    bench = leval(tasks=["tpo", "sci_fi"], samples_per_task=1, instructions_per_doc=1, max_new_tokens=16)
    metrics = run_benchmark(bench, lm, tmp_path / "run", progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["tpo:0:0", "sci_fi:0:0"]
    # L-Eval cuts whole words, 250 more each round, so documents end below the 1024-token budget
    assert all(r["meta"]["document_cut"] and 700 < r["prompt_tokens"] <= 1536 for r in records)
    assert "[fact:" in records[1]["prediction"]
    assert set(metrics["tasks"]) == {"tpo", "sci_fi"}
    assert all(0.0 <= v["exact_match"] <= 100.0 for v in metrics["tasks"].values())
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == metrics


@pytest.mark.parametrize("preset", ["leval", "leval_full"])
def test_presets_build_the_benchmark(preset):
    from omegaconf import OmegaConf

    from evals.files.paths import REPO_ROOT

    if not resolve_data_path(DEFAULT_DATA_DIR).is_dir():
        pytest.skip("shared L-Eval data not found")
    config = OmegaConf.to_container(OmegaConf.load(REPO_ROOT / "conf" / "benchmark" / f"{preset}.yaml"))
    assert config.pop("name") == "leval" and config.pop("max_length") > 512
    bench = get_benchmark("leval")(**config)
    samples = list(bench.samples())
    if preset == "leval":
        # the first test document of each task (coursera's, quality's and gsm100's first are dev)
        assert [s.id for s in samples] == ["coursera:1:0", "quality:2:0", "tpo:0:0", "sci_fi:0:0", "gsm100:1:0"]
        # the letter tasks keep 32 tokens on a CPU; gsm100 writes its reasoning in L-Eval's 512
        assert [s.max_new_tokens for s in samples] == [32, 32, 32, 32, 512]
        assert {s.prompt_format for s in samples} == {"official"}
    else:
        # 18 tasks: codeU and narrative_qa are not in the shared data; topic retrieval: 50 x 3 questions
        assert len(bench.tasks) == 18 and len(samples) == 1563  # the test split (dev: 362)
