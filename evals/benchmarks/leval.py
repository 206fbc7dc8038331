"""L-Eval (OpenLMLab/LEval) with its automatic metrics: one prompt per instruction over a shared
long document.

Facts (task list, system prompts, prompt layout per task kind, 512-token generations) live in
`leval_tasks.json`, read from the official baselines and `Evaluation/auto_eval.py`. Under
`prompt_format=official` every model gets llama2-chat-test.py's text, `[INST]<<SYS>>` around
the system prompt included (L-Eval has one script per model and no case for other families; its
README says to copy a baseline and swap the model in): the turn closed with `[/INST]` except for
gsm100 and codeU, which continue the few-shot text, and the prompt put through the script's
`str.format` (evals.benchmarks.leval.script_format). Under `chat` the system prompt opens a user turn of the
model's own template (gsm100 and codeU stay bare text); under `raw` nothing wraps it. Every task
generates 512 tokens (LEval_config.py); `letter_max_new_tokens` may cap the tasks answered by a
letter or True/False, which comes first. Documents longer than `max_length - 512` tokens are cut
the way the baselines cut them: whole words from the end (from the start for code), 250 more
words each round until they fit.
Closed-ended tasks score exact match on the extracted option / number / true-false, parsed from
the text as generated (auto_eval.py reads it unstripped; coursera's option parser depends on the
leading space); sci_fi also asks its question without the document ("[fact: ...]") and averages
the two; topic_retrieval_longchat averages its first/second/third-topic scores. Open-ended
documents marked `f1` or `rouge` get those scores; those marked for human or LLM judges are
skipped, as auto_eval.py skips them. Each average names the tasks it covers and the L-Eval tasks
it misses (codeU and narrative_qa are not in the shared data).

`split` (evals.benchmarks.common.splits): a document is dev when the SHA-256 of its text is 3 modulo 5 (gsm100,
whose 100 documents share one few-shot text, by its question instead); test never includes a dev
document, and copies of one document (the open-ended files repeat some for human judges) always
fall on the same side. `min_tokens` / `max_tokens` keep only documents whose length in the
model's tokens lies in that range (the document alone, before any cut), in file order; a
document longer than `max_length - 512` is still cut by L-Eval's rule.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Iterator

from evals.benchmarks.base import Benchmark, Sample
from evals.benchmarks.common.metrics import best_over_references, get_metric, leval_rouge_all
from evals.benchmarks.common.splits import content_key, document_split
from evals.benchmarks.common.token_bounds import in_range, token_range
from evals.benchmarks.options import PROMPT_FORMAT, SPLIT, Option, count, max_length
from evals.benchmarks.registry import register_benchmark
from evals.files.jsonl import read_jsonl
from evals.files.paths import require_data_path

SPEC = json.loads((Path(__file__).with_name("leval_tasks.json")).read_text(encoding="utf-8"))
TASKS: dict[str, dict] = SPEC["tasks"]
CLOSED_TASKS = [t for t, s in TASKS.items() if s["kind"] != "open"]
OPEN_TASKS = [t for t, s in TASKS.items() if s["kind"] == "open"]
OPEN_METRICS: dict[str, list[str]] = SPEC["open_metrics"]
RESERVED_TOKENS = SPEC["max_new_tokens"]  # every task's budget; the baselines cut documents to max_length minus this
OFFICIAL = SPEC["official"]  # llama2-chat-test.py's B_INST + B_SYS, E_SYS and E_INST
DEFAULT_DATA_DIR = "../shared/data/leval"
MAIN_SCORE = {"exam": "exact_match", "f1": "f1", "rouge": "rougeL"}
TOPIC_TASK = "topic_retrieval_longchat"
TOPIC_POSITIONS = ("first", "second", "third")  # auto_eval.py scores each question position apart


def read_documents(path: Path) -> list[dict]:
    """Documents of one L-Eval file, checked; a bad line is reported with file and line."""
    docs = read_jsonl(path, "documents")
    for doc in docs:
        where = doc["_where"]
        missing = [key for key in ("input", "instructions", "outputs", "evaluation") if key not in doc]
        if missing:
            raise ValueError(f"{where}: L-Eval document lacks field(s) {', '.join(missing)}")
        if not isinstance(doc["instructions"], list) or not isinstance(doc["outputs"], list):
            raise ValueError(f"{where}: 'instructions' and 'outputs' must be lists")
        if len(doc["instructions"]) != len(doc["outputs"]):
            raise ValueError(f"{where}: {len(doc['instructions'])} instructions but {len(doc['outputs'])} outputs")
    return docs


def script_format(message: str, document: str, instruction: str) -> str:
    """llama2-chat-test.py's last step: `message.format(document=..., inst=...)`, the message kept
    as it was when that raises. For gsm100, codeU and topic retrieval the document is already in
    the message, so its braces are parsed: text whose braces are all doubled ("{{") or name those
    two fields changes; any other brace makes format raise and leaves the text alone."""
    try:
        return message.format(document=document, inst=instruction)
    except Exception:  # the script's bare `except:` keeps the message on any error
        return message


def truncate_document(document: str, budget: int, count_tokens, keep: str = "start") -> str:
    """L-Eval's cut: while over `budget` tokens keep the first (or, for code, the last)
    budget - k words of what is left, k = 0, 250, 500, ..."""
    cut = 0
    while count_tokens(document) > budget:
        words = document.split(" ")
        document = " ".join(words[: budget - cut] if keep == "start" else words[cut - budget:])
        cut += 250
    return document


@register_benchmark
class LEval(Benchmark):
    """Config: tasks ("all", "closed", "open" or a list), samples_per_task (documents per task,
    null = all), instructions_per_doc (null = all), data_dir, max_new_tokens (every task; null =
    L-Eval's 512), letter_max_new_tokens (coursera, quality, tpo, sci_fi; null = max_new_tokens),
    prompt_format (official | chat | raw), split (dev | test), min_tokens / max_tokens (documents
    by their length in the model's tokens; null = no bound)."""

    name = "leval"

    options = (
        max_length(16384),  # documents are cut to max_length - 512 tokens (L-Eval's rule)
        Option("tasks", ["coursera", "quality", "tpo", "sci_fi", "gsm100"], "strs", min_items=1,
               doc="task names, or all / closed / open"),
        count("samples_per_task", 1, "documents per task; null: all"),
        count("instructions_per_doc", 1, "questions per document; null: all"),
        Option("data_dir", DEFAULT_DATA_DIR, "str"),
        count("max_new_tokens", None, "every task; null: L-Eval's 512 (LEval_config.py)"),
        count("letter_max_new_tokens", 32, "coursera, quality, tpo, sci_fi (the letter comes first); null: max_new_tokens"),
        PROMPT_FORMAT,
        SPLIT,
        count("min_tokens", None, "only documents with at least this many tokens (the model's tokenizer)"),
        count("max_tokens", None, "only documents with at most this many tokens"),
    )

    def __init__(self, **config: Any):
        super().__init__(**config)
        c = self.config
        self.prompt_format = c["prompt_format"]
        self.token_range = token_range("L-Eval", c["min_tokens"], c["max_tokens"])
        self._tokens: dict[tuple[str, int], int] = {}
        self._prepared: tuple | None = None
        self.data_dir = require_data_path(c["data_dir"], "benchmark.data_dir")
        if not self.data_dir.is_dir():
            raise FileNotFoundError(f"L-Eval benchmark.data_dir='{c['data_dir']}' ({self.data_dir}) is not a directory; "
                                    "it should hold Closed-ended-tasks/ and Open-ended-tasks/ (see ../shared/data/README.md)")
        self.tasks = self._select(c["tasks"])
        self.samples_per_task = c["samples_per_task"]
        self.instructions_per_doc = c["instructions_per_doc"]
        self.max_new_tokens = c["max_new_tokens"] or RESERVED_TOKENS
        self.letter_max_new_tokens = c["letter_max_new_tokens"] or self.max_new_tokens

    def task_file(self, task: str) -> Path:
        return self.data_dir / TASKS[task]["folder"] / f"{task}.jsonl"

    def _select(self, tasks: Any) -> list[str]:
        present = [t for t in TASKS if self.task_file(t).is_file()]
        if not present:
            raise FileNotFoundError(f"no L-Eval task files under {self.data_dir}")
        groups = {"all": present, "closed": [t for t in present if t in CLOSED_TASKS],
                  "open": [t for t in present if t in OPEN_TASKS]}
        if len(tasks) == 1 and tasks[0] in groups:
            return groups[tasks[0]]
        names = list(tasks)
        if not names:
            raise ValueError(f"L-Eval 'tasks' is empty. Valid: all, closed, open, {', '.join(present)}")
        for name in names:
            if name not in TASKS:
                raise ValueError(f"Unknown L-Eval task '{name}'. Valid: all, closed, open, {', '.join(TASKS)}")
            if name not in present:
                raise FileNotFoundError(f"L-Eval task '{name}' has no data file {self.task_file(name)}; "
                                        f"present: {', '.join(present)}")
        return names

    def split_text(self, task: str, doc: dict) -> str:
        """The text that places a document in a split: the document, or (gsm100, one few-shot text
        for all) its questions."""
        if TASKS[task].get("split_key") == "instructions":
            return "\n".join(map(str, doc["instructions"]))
        return doc["input"]

    def document_tokens(self, task: str, doc: dict, doc_index: int, tokenizer) -> int:
        key = (task, doc_index)
        if key not in self._tokens:
            if tokenizer is None:
                raise ValueError("L-Eval min_tokens / max_tokens count the model's tokens: samples() needs its tokenizer")
            self._tokens[key] = len(tokenizer(doc["input"], add_special_tokens=False)["input_ids"])
        return self._tokens[key]

    def build_sample(self, task: str, doc: dict, doc_index: int, inst_index: int) -> Sample:
        spec = TASKS[task]
        kind = SPEC["kinds"][spec["kind"]]
        instruction, output = doc["instructions"][inst_index], doc["outputs"][inst_index]
        values = {"instruction": instruction, "words": len(str(output).split())}
        before, after = (part.format(**values) for part in kind["prompt"].split("{document}"))
        system = SPEC["system"][spec["system"]]
        if self.prompt_format == "official":  # llama2-chat-test.py, for every family
            head = OFFICIAL["open"] + system + OFFICIAL["system_end"] + before
            after += OFFICIAL["close"] if kind["closed_turn"] else ""
        else:
            head = system.rstrip() + "\n\n" + before
        return Sample(
            id=f"{task}:{doc_index}:{inst_index}",
            task=task,
            prompt=head + doc["input"] + after,
            references=[str(output)],
            max_new_tokens=self.letter_max_new_tokens if spec.get("letter") else self.max_new_tokens,
            chat=kind["chat"],
            answer_prefix=kind["answer_prefix"],
            strip=False,  # auto_eval.py parses the generation as it is
            prompt_format=self.prompt_format,
            meta={"document": doc_index, "instruction": inst_index, "evaluation": doc["evaluation"],
                  "source": doc.get("source"), "query": instruction,
                  "document_span": [len(head), len(head) + len(doc["input"])],
                  "content": content_key("leval", self.split_text(task, doc))},
        )

    def samples(self, tokenizer=None) -> Iterator[Sample]:
        for task in self.tasks:
            docs = read_documents(self.task_file(task))
            if task in OPEN_TASKS:  # documents for human / LLM judges have no automatic metric
                docs = [d for d in docs if d["evaluation"] in OPEN_METRICS]
            else:
                for doc in docs:
                    if doc["evaluation"] != "exam":
                        raise ValueError(f"{doc['_where']}: closed-ended task '{task}' expects evaluation "
                                         f"'exam', got '{doc['evaluation']}'")
            taken = 0
            for doc_index, doc in enumerate(docs):
                if self.samples_per_task is not None and taken >= self.samples_per_task:
                    break
                if document_split(self.split_text(task, doc)) != self.split:
                    continue
                tokens = None
                if self.token_range != (None, None):
                    tokens = self.document_tokens(task, doc, doc_index, tokenizer)
                    if not in_range(tokens, self.token_range):
                        continue
                taken += 1
                for inst_index in range(len(doc["instructions"][: self.instructions_per_doc])):
                    sample = self.build_sample(task, doc, doc_index, inst_index)
                    if tokens is not None:
                        sample.meta["document_tokens"] = tokens
                    yield sample

    def fit_document(self, sample: Sample, lm) -> Sample:
        """Cut the document to max_length - 512 tokens with L-Eval's rule (no-op without max_length)."""
        max_length = getattr(lm, "max_length", None)
        if max_length is None:
            return sample
        budget = int(max_length) - RESERVED_TOKENS
        if budget <= 0:
            raise ValueError(f"L-Eval needs max_length above {RESERVED_TOKENS} (tokens kept for the answer), "
                             f"got {max_length}")
        start, end = sample.meta["document_span"]
        document = sample.prompt[start:end]
        keep = TASKS[sample.task].get("keep", "start")
        fitted = truncate_document(document, budget, lambda text: len(lm.tokenizer(text)["input_ids"]), keep)
        if fitted == document:
            return sample
        meta = dict(sample.meta, document_span=[start, start + len(fitted)], document_cut=True)
        return dataclasses.replace(sample, prompt=sample.prompt[:start] + fitted + sample.prompt[end:], meta=meta)

    def fact_sample(self, sample: Sample) -> Sample:
        """sci_fi's second question: the same statement judged from world knowledge, no document."""
        old, new = SPEC["sci_fi_fact"]["replace"]
        prompt = sample.meta["query"].replace(old, new) + SPEC["sci_fi_fact"]["suffix"]
        return dataclasses.replace(sample, id=sample.id + ":fact", prompt=prompt, chat=False, answer_prefix="")

    def script_formatted(self, sample: Sample) -> Sample:
        """Under `official`, a prompt built inline (gsm100, codeU, topic retrieval) after the
        script's str.format (see script_format); any other sample as it is."""
        if sample.prompt_format != "official" or not SPEC["kinds"][TASKS[sample.task]["kind"]]["inline"]:
            return sample
        start, end = sample.meta["document_span"]
        prompt = script_format(sample.prompt, sample.prompt[start:end], sample.meta["query"])
        return sample if prompt == sample.prompt else dataclasses.replace(sample, prompt=prompt)

    def prepare(self, sample: Sample, lm) -> Sample:
        """The document cut to max_length - 512 tokens, then the script's str.format (the last one
        kept: a method's length rule and the evaluation ask for the same sample)."""
        if self._prepared is None or self._prepared[:2] != (sample.id, id(lm)):
            self._prepared = (sample.id, id(lm), self.script_formatted(self.fit_document(sample, lm)))
        return self._prepared[2]

    def content_keys(self, sample: Sample) -> list[str]:
        return [sample.meta["content"]]

    def evaluate(self, sample: Sample, lm) -> dict:
        sample = self.prepare(sample, lm)
        prediction, prompt_tokens = lm.generate(sample)
        if TASKS[sample.task].get("metric") == "leval_sci_fi":
            fact, _ = lm.generate(self.fact_sample(sample))
            prediction = f"{prediction} [fact: {fact}]"
        return self.record(sample, prediction, prompt_tokens, lm)

    def score(self, sample: Sample, prediction: str) -> dict[str, float]:
        evaluation = sample.meta["evaluation"]
        if evaluation == "rouge":
            per_reference = [leval_rouge_all(prediction, reference) for reference in sample.references]
            return {key: max(s[key] for s in per_reference) for key in ("rougeL", "rouge1", "rouge2")}
        if evaluation == "f1":
            return {"f1": best_over_references(get_metric("leval_f1"), prediction, sample.references)}
        metric = TASKS[sample.task]["metric"]
        if metric == "leval_sci_fi":
            if "[fact:" not in prediction:
                raise ValueError("sci_fi predictions end with ' [fact: <answer without the document>]' "
                                 "(LEval.evaluate adds it)")
            loyalty = best_over_references(get_metric("leval_sci_fi_loyalty"), prediction, sample.references)
            fact = best_over_references(get_metric("leval_sci_fi_fact"), prediction, sample.references)
            return {"exact_match": (loyalty + fact) / 2, "loyalty": loyalty, "fact": fact}
        return {"exact_match": best_over_references(get_metric(metric), prediction, sample.references)}

    def summarize(self, records: list[dict]) -> dict:
        """Per task the mean of each score (x100; rouge tasks add L-Eval's geometric mean of
        ROUGE-1/2/L; topic retrieval the mean of its three position scores), the mean main score
        over closed-ended, open-ended and all tasks, and which L-Eval tasks each mean covers."""
        sums: dict[str, dict[str, list[float]]] = {}
        main: dict[str, str] = {}
        for record in records:
            task = record["task"]
            for key, value in record["scores"].items():
                sums.setdefault(task, {}).setdefault(key, []).append(float(value))
            if task == TOPIC_TASK:
                position = TOPIC_POSITIONS[int(record["meta"]["instruction"]) % len(TOPIC_POSITIONS)]
                sums[task].setdefault(position, []).append(float(record["scores"]["exact_match"]))
            main[task] = MAIN_SCORE[record["meta"]["evaluation"]]
        tasks = {}
        for task in [t for t in TASKS if t in sums]:
            scores = {key: 100.0 * sum(v) / len(v) for key, v in sums[task].items()}
            if main[task] == "rougeL":
                scores["rouge_geometric_mean"] = (scores["rouge1"] * scores["rouge2"] * scores["rougeL"]) ** (1 / 3)
            if task == TOPIC_TASK:  # auto_eval.py: the mean of the 1st/2nd/3rd-topic scores
                positions = [scores[p] for p in TOPIC_POSITIONS if p in scores]
                scores["exact_match"] = sum(positions) / len(positions)
            tasks[task] = {main[task]: scores.pop(main[task]), **scores}

        def mean(names: list[str]) -> float | None:
            values = [tasks[t][main[t]] for t in names]
            return sum(values) / len(values) if values else None

        covers = {"closed_ended_average": [t for t in tasks if t in CLOSED_TASKS],
                  "open_ended_average": [t for t in tasks if t in OPEN_TASKS], "average": list(tasks)}
        leval = {"closed_ended_average": CLOSED_TASKS, "open_ended_average": OPEN_TASKS, "average": list(TASKS)}
        return {
            "tasks": tasks,
            "counts": {task: len(next(iter(sums[task].values()))) for task in tasks},
            **{name: mean(names) for name, names in covers.items()},
            "average_tasks": covers,
            "average_missing": {name: [t for t in leval[name] if t not in covers[name]] for name in covers},
            "num_samples": len(records),
        }
