"""RULER's QA tasks: qa_1 on SQuAD (v2 dev), qa_2 on HotpotQA (dev distractor). The gold
paragraph(s) of one question are mixed with distractor paragraphs until the prompt fills the length.

The data is not bundled: point `qa_data.squad` / `qa_data.hotpotqa` at the released JSON files
(RULER downloads dev-v2.0.json and hotpot_dev_distractor_v1.json).
"""
from __future__ import annotations

import json
import random
from functools import lru_cache

from evals.benchmarks.common.splits import value_split
from evals.benchmarks.ruler.constants import DOCUMENT
from evals.benchmarks.ruler.generator import Built, TaskGenerator, depth_percent
from evals.files.paths import resolve_data_path

DOWNLOADS = {
    "squad": "https://rajpurkar.github.io/SQuAD-explorer/dataset/dev-v2.0.json",
    "hotpotqa": "http://curtis.ml.cmu.edu/datasets/hotpot/hotpot_dev_distractor_v1.json",
}


def _load_json(path, dataset: str):
    resolved = resolve_data_path(path)
    if not resolved.is_file():
        raise FileNotFoundError(f"qa_data.{dataset}: file '{path}' not found (resolved to {resolved})")
    try:
        return json.loads(resolved.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{resolved}:{err.lineno}: malformed JSON ({err.msg})") from None


@lru_cache(maxsize=4)
def read_squad(path: str) -> tuple[list[dict], list[str]]:
    """(questions, documents): answerable questions with their paragraph and its article's others."""
    data = _load_json(path, "squad")
    try:
        articles = data["data"]
        docs = sorted({p["context"] for a in articles for p in a["paragraphs"]})
        index = {d: i for i, d in enumerate(docs)}
        questions = []
        for a in articles:
            same_article = [index[p["context"]] for p in a["paragraphs"]]
            for p in a["paragraphs"]:
                own = index[p["context"]]
                for qa in p["qas"]:
                    if not qa.get("is_impossible", False):
                        questions.append({"query": qa["question"], "outputs": [x["text"] for x in qa["answers"]],
                                          "context": [own], "more_context": [i for i in same_article if i != own]})
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path}: not in SQuAD format (data/paragraphs/context/qas): missing {err}") from None
    if not questions:
        raise ValueError(f"{path}: no answerable SQuAD questions")
    return questions, docs


@lru_cache(maxsize=4)
def read_hotpotqa(path: str) -> tuple[list[dict], list[str]]:
    """(questions, documents): each question with all its (gold and distractor) paragraphs."""
    data = _load_json(path, "hotpotqa")
    try:
        docs = sorted({f"{title}\n{''.join(sents)}" for item in data for title, sents in item["context"]})
        index = {d: i for i, d in enumerate(docs)}
        questions = [{"query": item["question"], "outputs": [item["answer"]],
                      "context": [index[f"{t}\n{''.join(s)}"] for t, s in item["context"]]} for item in data]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not in HotpotQA format (question/answer/context): {err}") from None
    if not questions:
        raise ValueError(f"{path}: no HotpotQA questions")
    return questions, docs


READERS = {"squad": read_squad, "hotpotqa": read_hotpotqa}


class QA(TaskGenerator):
    family = "qa"

    def data(self) -> tuple[list[dict], list[str]]:
        dataset = self.args["dataset"]
        path = self.qa_data.get(dataset)
        if not path:
            raise ValueError(
                f"RULER task '{self.task}' needs {dataset} data: set qa_data.{dataset} to the released JSON "
                f"({DOWNLOADS[dataset]}), or leave '{self.task}' out of tasks"
            )
        return READERS[dataset](str(path))

    def own_questions(self) -> tuple[list[dict], list[str]]:
        """This split's questions (by the hash of the question text) and all documents."""
        questions, docs = self.data()
        own = [q for q in questions if value_split(q["query"]) == self.split]
        if not own:
            raise ValueError(f"RULER task '{self.task}': no {self.split} question in its data")
        return own, docs

    def build(self, rng: random.Random, size: int, index: int) -> Built:
        questions, docs = self.own_questions()
        q = questions[index % len(questions)]
        gold, more = q["context"], q.get("more_context", [])
        if size < len(docs):
            if size - len(gold) > len(more):
                taken = set(gold) | set(more)
                others = [i for i in range(len(docs)) if i not in taken]
                chosen = gold + more + rng.sample(others, max(0, size - len(gold) - len(more)))
            else:
                chosen = gold + rng.sample(more, max(0, size - len(gold)))
            picked = [docs[i] for i in chosen]
        else:
            picked = (docs * -(-size // len(docs)))[:size]
        rng.shuffle(picked)
        context = "\n\n".join(DOCUMENT.format(i=i + 1, document=d) for i, d in enumerate(picked))
        depths = [depth_percent(context, docs[i]) for i in gold]
        return Built(
            text=self.template.format(context=context, query=q["query"]),
            answer_prefix=self.answer_prefix,
            answers=list(q["outputs"]),
            meta={"keys": [q["query"]], "depth": min((d for d in depths if d is not None), default=None), "num_docs": size,
                  "question_index": index % len(questions)},
        )
