"""LongBench v2 on a handful of records in the released format (tests/fixtures/longbench_v2/data.json,
written for lampe). Every expected value is worked out by hand from THUDM/LongBench's pred.py and
result.py (at 2e00731), not from lampe's code."""
from __future__ import annotations

import json

import pytest

from evals.benchmarks.longbench_v2 import LongBenchV2
from evals.benchmarks.longbench_v2.benchmark import result_items
from evals.benchmarks.longbench_v2.prompts import cut_middle, fill
from evals.benchmarks.longbench_v2.scoring import breakdown, extract_answer, question_score, result_table
from evals.benchmarks.registry import get_benchmark
from evals.files.paths import REPO_ROOT

pytestmark = pytest.mark.usefixtures("every_document_is_test")  # the fixture whole (splits: their own tests)

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "longbench_v2"


@pytest.fixture(autouse=True)
def no_hub(monkeypatch):
    """The hub is never asked unless a test lifts this."""
    def never(*args, **kwargs):
        raise AssertionError("the hub was asked")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", never)


class ScriptedLM:
    """Replies in order; remembers what it was asked. Shallow copies share both lists."""

    def __init__(self, replies, tokenizer=None, max_length=None):
        self.replies, self.asked = list(replies), []
        self.tokenizer, self.max_length, self.family = tokenizer, max_length, "chatml"

    def generate(self, sample):
        self.asked.append(sample)
        return self.replies.pop(0), len(sample.prompt)


def run(bench, lm):
    return [bench.evaluate(sample, lm) for sample in bench.samples()]


# ---- pred.py's extract_answer and judge --------------------------------------------------------

@pytest.mark.parametrize("reply, letter", [
    ("The correct answer is (B).", "B"),
    ("**The correct answer is (C)**", "C"),  # every "*" is removed first
    ("The correct answer is **(A)**", "A"),
    ("The correct answer is D", "D"),  # the bare-letter pattern
    ("The correct answer is B, no: The correct answer is (C)", "C"),  # the bracketed pattern is searched first
    ("The correct answer is (A) or The correct answer is (B)", "A"),  # its first match
    ("the correct answer is (A)", None),  # case-sensitive
    ("The correct answer is: A", None),
    ("The correct answer is (E)", None),
    ("The correct answer is (a)", None),
    ("The correct answer is Both", "B"),  # "B" of "Both": the bare pattern has no word boundary
    ("", None),
])
def test_extract_answer_is_pred_pys(reply, letter):
    assert extract_answer(reply) == letter


def test_question_score():
    assert question_score("A", "A") == 1.0 and question_score("B", "A") == 0.0 and question_score(None, "A") == 0.0
    assert question_score(None, "A", compensated=True) == 0.25 and question_score("B", "A", compensated=True) == 0.0


# ---- result.py ------------------------------------------------------------------------------------

ITEMS = [  # what pred.py writes: judge, pred, difficulty, length
    {"difficulty": "easy", "length": "short", "judge": True, "pred": "A"},
    {"difficulty": "hard", "length": "medium", "judge": False, "pred": "C"},
    {"difficulty": "easy", "length": "long", "judge": True, "pred": "B"},
    {"difficulty": "hard", "length": "short", "judge": False, "pred": None},
    {"difficulty": "hard", "length": "long", "judge": True, "pred": "D"},
    {"difficulty": "easy", "length": "medium", "judge": False, "pred": None},
]


def test_result_table_is_result_pys():
    # easy: 1+1+0 of 3; hard: 0+0+1 of 3; short 1+0 of 2; medium 0+0 of 2; long 1+1 of 2; overall 3 of 6
    assert result_table({"model": ITEMS}) == ("Model\tOverall\tEasy\tHard\tShort\tMedium\tLong\n"
                                              "model\t50.0\t66.7\t33.3\t50.0\t0.0\t100.0")
    # compensated: the two without an answer count 0.25: easy 2.25/3, hard 1.25/3, short 1.25/2,
    # medium 0.25/2, long 2/2, overall 3.5/6
    assert result_table({"model": ITEMS}, compensated=True).splitlines()[1] == "model\t58.3\t75.0\t41.7\t62.5\t12.5\t100.0"
    values, counts = breakdown(ITEMS)
    assert values["Hard"] == pytest.approx(100 / 3) and counts == {"Overall": 6, "Easy": 3, "Hard": 3, "Short": 2,
                                                                   "Medium": 2, "Long": 2}


def test_result_py_else_branches():
    """result.py counts any difficulty but "easy" as hard and any length but short/medium as long."""
    values, counts = breakdown([{"difficulty": "Easy", "length": "Short", "judge": True, "pred": "A"}])
    assert counts["Hard"] == 1 and counts["Long"] == 1 and counts["Easy"] == 0 and values["Easy"] is None
    assert result_table({"m": [ITEMS[0]]}).splitlines()[1] == "m\t100.0\t100.0\t-\t100.0\t-\t-"


# ---- prompts -------------------------------------------------------------------------------------

def test_fill_replaces_in_pred_pys_order():
    record = {"context": "  a doc quoting $Q$ and $C_A$  ", "question": "Why $DOC$? ", "choice_A": "one",
              "choice_B": "two", "choice_C": "three", "choice_D": "four $C_A$"}
    # $DOC$ first (the question's "$DOC$" is not there yet), then $Q$ everywhere, then $C_A$
    # everywhere (inside the document too), ... $C_D$ last (its own "$C_A$" is left)
    assert fill("[$DOC$] $Q$ $C_A$/$C_B$/$C_C$/$C_D$ $COT$", record) == (
        "[a doc quoting Why $DOC$? and one] Why $DOC$? one/two/three/four $C_A$ $COT$")


def test_samples_are_the_official_prompts():
    bench = LongBenchV2(num_samples=None, data_dir=str(FIXTURE))
    first = next(bench.samples())
    assert first.prompt == (  # prompts/0shot.txt filled by hand
        "Please read the following text and answer the question below.\n\n<text>\n"
        "The lighthouse on Gull Point was kept by Mara Lind for thirty winters. Every evening she climbed the "
        "ninety steps, trimmed the wick and wrote the weather in a green ledger. When the harbour master offered "
        "her an electric lamp, she said the sea had not asked for one.\n</text>\n\n"
        "What is the correct answer to this question: Who keeps the lighthouse on Gull Point?\nChoices:\n"
        "(A) Mara Lind\n(B) The harbour master\n(C) Her brother\n(D) Nobody\n\n"
        'Format your response as follows: "The correct answer is (insert answer here)".')
    assert first.id == "longbench_v2:lampe-fixture-001" and first.task == "Single-Document QA"
    assert first.references == ["A"] and first.max_new_tokens == 128 and first.prompt_format == "official"
    assert first.meta["difficulty"] == "easy" and first.meta["length_class"] == "short"
    assert "length" not in first.meta  # meta.length is a length in tokens elsewhere (method.factor=auto)
    blind = next(LongBenchV2(num_samples=None, data_dir=str(FIXTURE), mode="no_context").samples())
    assert blind.prompt == ("What is the correct answer to this question: Who keeps the lighthouse on Gull Point?\n"
                            "Choices:\n(A) Mara Lind\n(B) The harbour master\n(C) Her brother\n(D) Nobody\n\n"
                            "What is the single, most likely answer choice? Format your response as follows: "
                            '"The correct answer is (insert answer here)".')
    cot = next(LongBenchV2(num_samples=None, data_dir=str(FIXTURE), mode="cot").samples())
    assert cot.prompt.startswith("Please read the following text and answer the questions below.\n\n<text>\nThe ")
    assert cot.prompt.endswith("(D) Nobody\n\nLet’s think step by step:") and cot.max_new_tokens == 1024


# ---- a run over the fixture ------------------------------------------------------------------------

# fixture answers: A, B, B, C, D, B
DIRECT_REPLIES = [
    "The correct answer is (A)",          # A: right
    "**The correct answer is (B)**",     # B: right
    "I think the correct answer is B",   # none ("the", lower case): wrong
    " The correct answer is C. ",        # C: right
    "",                                  # empty: pred.py would drop it; here no answer, wrong
    "The correct answer is (A), not (B)",  # A: wrong
]


def test_direct_run_scores_and_breakdown():
    bench = LongBenchV2(num_samples=None, data_dir=str(FIXTURE))
    records = run(bench, ScriptedLM(DIRECT_REPLIES))
    assert [r["extracted"] for r in records] == ["A", "B", None, "C", None, "A"]
    assert [r["scores"]["accuracy"] for r in records] == [1.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    assert [r["empty"] for r in records] == [False, False, False, False, True, False]
    assert records[3]["prediction"] == "The correct answer is C."  # the reply stripped (pred.py:107)
    metrics = bench.summarize(records)
    # easy: #1 #3 #6 -> 1/3; hard: #2 #4 #5 -> 2/3; short: #1 #4 -> 2/2; medium: #2 #6 -> 1/2; long: #3 #5 -> 0/2
    assert result_table({"lampe": result_items(records)}) == ("Model\tOverall\tEasy\tHard\tShort\tMedium\tLong\n"
                                                              "lampe\t50.0\t33.3\t66.7\t100.0\t50.0\t0.0")
    assert metrics["average"] == 50.0 and metrics["breakdown"]["short"] == 100.0
    assert metrics["breakdown"]["easy"] == pytest.approx(100 / 3)
    assert metrics["tasks"]["Multi-Document QA"] == {"accuracy": 100.0}
    assert metrics["tasks"]["Long Structured Data Understanding"] == {"accuracy": 0.0}
    assert metrics["counts"]["no_answer"] == 2 and metrics["counts"]["empty"] == 1 and metrics["num_samples"] == 6
    compensated = LongBenchV2(num_samples=None, data_dir=str(FIXTURE), compensated=True)
    again = run(compensated, ScriptedLM(DIRECT_REPLIES))
    assert [r["scores"]["compensated_accuracy"] for r in again] == [1.0, 1.0, 0.25, 1.0, 0.25, 0.0]
    assert compensated.summarize(again)["average"] == pytest.approx(350 / 6)


def test_cot_asks_twice_with_the_reasoning():
    bench = LongBenchV2(data_dir=str(FIXTURE), mode="cot", num_samples=2)
    lm = ScriptedLM(["  Mara keeps it; $Q$ stays.\n", "The correct answer is (A)", ""])
    records = run(bench, lm)
    first, answer, second = lm.asked
    assert first.max_new_tokens == 1024 and answer.max_new_tokens == 128 and second.max_new_tokens == 1024
    assert answer.prompt == (  # prompts/0shot_cot_ans.txt, the reasoning stripped and put in last
        "Please read the following text and answer the questions below.\n\nThe text is too long and omitted here.\n\n"
        "What is the correct answer to this question: Who keeps the lighthouse on Gull Point?\nChoices:\n"
        "(A) Mara Lind\n(B) The harbour master\n(C) Her brother\n(D) Nobody\n\n"
        "Let’s think step by step: Mara keeps it; $Q$ stays.\n\n"
        "Based on the above, what is the single, most likely answer choice? Format your response as follows: "
        '"The correct answer is (insert answer here)".')
    assert records[0]["reasoning"] == "Mara keeps it; $Q$ stays." and records[0]["extracted"] == "A"
    assert records[0]["scores"]["accuracy"] == 1.0 and records[0]["prompt_tokens"] == len(first.prompt)
    # an empty reasoning ends the question at once (pred.py:98), without the answer call
    assert records[1]["empty"] and records[1]["extracted"] is None and len(lm.asked) == 3


def test_official_renders_through_the_chat_template():
    lm = ScriptedLM(["The correct answer is (A)"])
    run(LongBenchV2(data_dir=str(FIXTURE), num_samples=1), lm)
    assert lm.asked[0].prompt_format == "chat"  # the server applies the model's template
    raw = ScriptedLM(["x"])
    record = run(LongBenchV2(data_dir=str(FIXTURE), num_samples=1, prompt_format="raw"), raw)[0]
    assert raw.asked[0].prompt_format == "raw" and record["prompt_format"] == "raw"


# ---- data and options ------------------------------------------------------------------------------

def test_data_file_may_be_named_directly():
    assert len(list(LongBenchV2(num_samples=None, data_dir=str(FIXTURE / "data.json")).samples())) == 6


def test_offline_without_data_names_the_option(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("offline and not cached")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", offline)
    with pytest.raises(FileNotFoundError, match=r"benchmark.data_dir is not set .*THUDM/LongBench-v2.*offline"):
        LongBenchV2()


def test_hub_data_json_is_read(monkeypatch):
    monkeypatch.setattr("huggingface_hub.hf_hub_download", lambda repo, name, repo_type: str(FIXTURE / name))
    bench = LongBenchV2(num_samples=3)
    assert [s.meta["data"] for s in bench.samples()] == ["hub"] * 3


@pytest.mark.parametrize("records, message", [
    ("[]", r"non-empty JSON list"),
    ("{oops", r"not valid JSON"),
    (json.dumps([{"_id": "x1", "question": "q"}]), r"\[0\] \(_id x1\): LongBench v2 record lacks field\(s\) domain"),
])
def test_bad_data_is_named(tmp_path, records, message):
    (tmp_path / "data.json").write_text(records)
    with pytest.raises(ValueError, match=message):
        LongBenchV2(data_dir=str(tmp_path))


def test_bad_answer_is_named(tmp_path):
    record = json.loads((FIXTURE / "data.json").read_text())[0]
    (tmp_path / "data.json").write_text(json.dumps([{**record, "answer": "E"}]))
    with pytest.raises(ValueError, match=r"answer 'E' is not one of A, B, C, D"):
        LongBenchV2(data_dir=str(tmp_path))


def test_missing_data_dir_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"benchmark.data_dir='.*nowhere': no data.json"):
        LongBenchV2(data_dir=str(tmp_path / "nowhere"))


@pytest.mark.parametrize("config, message", [
    ({"mode": "fewshot"}, r"Invalid benchmark.mode='fewshot'. Valid choices: cot, direct, no_context"),
    ({"num_samples": 0}, r"Invalid benchmark.num_samples=0"),
    ({"compensated": "yes"}, r"Invalid benchmark.compensated='yes'"),
    ({"prompt_format": "llama3"}, r"Invalid benchmark.prompt_format='llama3'. Valid choices: official, chat, raw"),
    ({"tasks": ["x"]}, r"Unknown longbench_v2 option 'tasks'. Valid: max_length, mode, num_samples"),
])
def test_bad_options_are_named(config, message):
    with pytest.raises(ValueError, match=message):
        LongBenchV2(**{"data_dir": str(FIXTURE), **config})


def test_registered_and_presets_build():
    import yaml

    assert get_benchmark("longbench_v2") is LongBenchV2
    for preset in ("longbench_v2", "longbench_v2_full"):
        config = yaml.safe_load((REPO_ROOT / "conf" / "benchmark" / f"{preset}.yaml").read_text())
        assert config.pop("name") == "longbench_v2" and config.pop("max_length") > 0
        assert set(config) == {"mode", "num_samples", "data_dir", "compensated", "prompt_format", "split"}
        bench = LongBenchV2(**{**config, "data_dir": str(FIXTURE)})
        assert len(list(bench.samples())) == (config["num_samples"] or 6)


def test_cut_middle_on_the_embedded_tokenizer(tokenizer):
    text = " ".join(f"word{i}" for i in range(300))
    cut = cut_middle(text, tokenizer, 41)
    assert cut.startswith("word0 word1") and cut.endswith("word298 word299")
    assert len(tokenizer(cut)["input_ids"]) <= 42 and cut_middle(text, tokenizer, None) == text


def test_result_cli_prints_result_pys_table(tmp_path, capsys):
    from evals.report.longbench_v2 import main

    records = run(LongBenchV2(num_samples=None, data_dir=str(FIXTURE)), ScriptedLM(DIRECT_REPLIES))
    run_dir = tmp_path / "smollm2" / "lampe" / "longbench_v2" / "abc123"
    run_dir.mkdir(parents=True)
    (run_dir / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run_dir / "config.yaml").write_text("benchmark:\n  name: longbench_v2\n  compensated: true\n")
    assert main([str(run_dir)]) == 0
    # compensated: #3 and #5 (no answer) count 0.25: easy 1.25/3, hard 2.25/3, long 0.5/2, overall 3.5/6
    assert capsys.readouterr().out == ("Model\tOverall\tEasy\tHard\tShort\tMedium\tLong\n"
                                       "smollm2/lampe/abc123\t58.3\t41.7\t75.0\t100.0\t50.0\t25.0\n")
