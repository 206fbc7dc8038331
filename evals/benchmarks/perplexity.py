"""Sliding-window perplexity of long documents at a list of evaluation lengths.

The Hugging Face recipe (docs: "Perplexity of fixed-length models"): windows of `length` tokens
start every `stride` tokens; each window is scored only on the tokens the previous one did not
reach (all of them for the first), so every token is predicted once, with up to `length` tokens
of context (the first token of a window that shares nothing with the previous one has no
context and is skipped, as in the recipe). `stride: null` means stride = length (disjoint
windows); `max_windows: 1` scores just the first `length` tokens of each document (the YaRN /
LongLoRA "truncate at L" curve). There is no generation: `evaluate` runs forward passes under
torch.no_grad and never materializes the logits of a whole window, so 32k windows fit in memory.

Documents are the units: independent long texts, each at least the longest length, so every
length reads the same documents and an interval is taken over documents (n counts them). A
document shorter than the longest length is skipped (counted in a printed line); too few left is
an error. Sources: local .txt files and .jsonl files (one document per line, `field`; default:
the shared L-Eval inputs, duplicates dropped), or a `datasets` dataset when reachable, e.g.
`dataset: {path: emozilla/pg19-test, split: test, field: text}` (any other key goes to
datasets.load_dataset). `concatenate: true` is the old single-document mode (the essays, each too
short alone, joined into one text): its interval can only be a moving-block bootstrap over the
text's own 1024-token blocks, which the tables name with its block length.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F

from evals.benchmarks.base import Benchmark, Sample
from evals.benchmarks.common.haystack import read_text_file
from evals.benchmarks.common.splits import content_key, document_split
from evals.benchmarks.options import SPLIT, Option, count, lengths, max_length
from evals.benchmarks.registry import register_benchmark
from evals.files.paths import resolve_data_path

BLOCK_TOKENS = 1024  # consecutive scored tokens per block of a perplexity interval (one long window)

DEFAULT_DOCUMENTS = "../shared/data/leval"  # L-Eval's long inputs: 299 distinct documents, 12 of them >= 32k tokens


def _files(value):
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v.strip() for v in items):
        raise ValueError(f"Invalid benchmark.files={value!r}: expected a path or a list of paths, or null")
    return value


def _dataset(value):
    if not (isinstance(value, str) and value.strip()) and not (isinstance(value, dict) and value.get("path")):
        raise ValueError(f"Invalid benchmark.dataset={value!r}: expected a dataset name or "
                         f"{{path: ..., split: ..., field: ...}}, or null")
    return value


_NOT_DOCUMENTS = ("license", "readme")  # files that ship beside the data but are not documents


@torch.no_grad()
def window_nll(model, input_ids: torch.Tensor, score_from: int = 0, chunk: int = 1024,
               losses: list[float] | None = None) -> tuple[float, int]:
    """(sum of -log p, count) over the tokens of a [1, n] window at positions >= score_from.

    Position 0 has no context and is never scored. The decoder runs once; the output head is
    applied `chunk` positions at a time (a full 32k x 128k-vocabulary logits tensor would not fit).
    `losses`, when given, receives each scored token's -log p in order.
    """
    n = input_ids.shape[1]
    start = max(score_from, 1)
    if start >= n:
        return 0.0, 0
    decoder, head = getattr(model, "get_decoder", lambda: None)(), model.get_output_embeddings()
    softcap = getattr(model.config, "final_logit_softcapping", None)
    if decoder is None or head is None:  # pragma: no cover - every HF causal LM has both
        logits = model(input_ids, use_cache=False).logits[0, start - 1:n - 1].float()
        token_nll = F.cross_entropy(logits, input_ids[0, start:], reduction="none").double()
        if losses is not None:
            losses.extend(token_nll.tolist())
        return token_nll.sum().item(), n - start
    hidden = decoder(input_ids=input_ids, use_cache=False).last_hidden_state[0]
    total = 0.0
    for left in range(start - 1, n - 1, chunk):
        right = min(left + chunk, n - 1)
        logits = head(hidden[left:right]).float()
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        token_nll = F.cross_entropy(logits, input_ids[0, left + 1:right + 1], reduction="none").double()
        if losses is not None:
            losses.extend(token_nll.tolist())
        total += token_nll.sum().item()
    return total, n - start


def sliding_windows(num_tokens: int, length: int, stride: int, max_windows: int | None = None):
    """(begin, end, score_from) per window: score_from is the first new position inside it."""
    windows, previous_end = [], 0
    for begin in range(0, num_tokens, stride):
        end = min(begin + length, num_tokens)
        windows.append((begin, end, (end - begin) - (end - previous_end)))
        previous_end = end
        if end == num_tokens or (max_windows and len(windows) >= max_windows):
            break
    return windows


def document_files(path) -> list[Path]:
    """A .txt or .jsonl file, or every one under a folder in path order (license/readme skipped)."""
    resolved = resolve_data_path(path)
    if resolved.is_file():
        return [resolved]
    if not resolved.is_dir():
        raise FileNotFoundError(f"perplexity: documents '{path}' not found (resolved to {resolved})")
    files = sorted(p for p in resolved.rglob("*") if p.suffix in (".txt", ".jsonl")
                   and not p.name.lower().startswith(_NOT_DOCUMENTS))
    if not files:
        raise ValueError(f"perplexity: folder '{path}' ({resolved}) holds no .txt or .jsonl files")
    return files


def _file_documents(path: Path, field: str) -> Iterator[tuple[str, str]]:
    """(name, text): a .txt file is one document; a .jsonl file one per line, from `field`."""
    if path.suffix != ".jsonl":
        yield path.stem, read_text_file(path)
        return
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        row = json.loads(line)
        if field not in row:
            raise ValueError(f"perplexity: {path} line {i + 1} has no field '{field}'. Fields: {', '.join(row)}")
        yield f"{path.stem}/{i}", row[field]


def load_documents(c: dict) -> Iterator[tuple[str, str]]:
    """(name, text) of each distinct document, from `dataset` when given, else from `files`;
    `concatenate` joins the files into one document (the old single-document mode)."""
    if c["dataset"]:
        yield from _dataset_documents(c["dataset"])
        return
    paths = c["files"] if isinstance(c["files"], list) else [c["files"]]
    files = [f for p in paths for f in document_files(p)]
    if c["concatenate"]:
        name = "+".join(Path(str(p)).stem or str(p) for p in paths)
        yield name, "\n\n".join(text for f in files for _, text in _file_documents(f, c["field"]))
        return
    seen = set()
    for f in files:
        for name, text in _file_documents(f, c["field"]):
            digest = hashlib.sha1(text.encode("utf-8")).hexdigest()
            if digest not in seen:  # L-Eval repeats a document across its instructions and tasks
                seen.add(digest)
                yield name, text


def _dataset_documents(spec) -> Iterator[tuple[str, str]]:
    """Rows of a `datasets` dataset; every key but `field` goes to datasets.load_dataset."""
    spec = {"path": spec} if isinstance(spec, str) else dict(spec)
    if "path" not in spec:
        raise ValueError(f"perplexity: dataset needs a 'path' (e.g. emozilla/pg19-test), got {spec}")
    field = spec.pop("field", "text")
    kwargs = {"split": "test", "streaming": True, **spec}
    try:
        import datasets

        rows = datasets.load_dataset(**kwargs)
    except Exception as err:  # offline, unknown dataset, bad split...
        raise RuntimeError(f"perplexity: cannot load dataset '{spec['path']}' (split '{kwargs['split']}'): {err}. "
                           "Point `files:` at local text instead") from err
    for i, row in enumerate(rows):
        if field not in row:
            raise ValueError(f"perplexity: dataset '{spec['path']}' has no field '{field}'. Fields: {', '.join(row)}")
        yield f"{Path(str(spec['path'])).name}/{kwargs['split']}/{i}", row[field]


@register_benchmark
class Perplexity(Benchmark):
    name = "perplexity"
    options = (
        max_length(),
        lengths([2048, 4096, 8192, 16384], low=2),  # a 1-token window predicts nothing
        count("stride", None, "tokens between window starts; null: stride = length (disjoint windows)"),
        count("max_windows", 1, "windows per document and length; null: the whole document"),
        count("max_tokens", None, "cut each document to this many tokens first; null: whole"),
        Option("files", DEFAULT_DOCUMENTS, "any", null=True, check=_files,
               doc=".txt files, .jsonl files (one document per line), or folders of them (one or a list)"),
        Option("field", "input", "str", doc="the .jsonl field that holds a document"),
        Option("concatenate", False, "bool", doc="all files joined into ONE document (moving-block intervals)"),
        Option("dataset", None, "any", null=True, check=_dataset,
               doc="a datasets dataset, e.g. {path: emozilla/pg19-test, split: test, field: text}"),
        count("num_documents", 4, "the first this many that hold the longest length; null: all of them"),
        count("min_tokens", None, "skip documents shorter than this (never below the longest length)"),
        Option("logits_chunk", 1024, "int", low=1, doc="positions per output-head call"),
        SPLIT,
    )

    def __init__(self, **config):
        super().__init__(**config)
        c = self.config
        self.lengths = c["lengths"]
        if c["stride"] and c["stride"] > min(self.lengths):
            raise ValueError(f"perplexity: stride {c['stride']} is longer than length {min(self.lengths)}: "
                             "tokens between windows would never be scored")
        if not c["dataset"] and not c["files"]:
            raise ValueError("perplexity: set `files` (local text) or `dataset` (a datasets dataset)")
        if c["min_tokens"] is not None and c["min_tokens"] < max(self.lengths):
            raise ValueError(f"perplexity: min_tokens={c['min_tokens']} is below the longest length "
                             f"{max(self.lengths)}: every document must fill the longest window, so that each "
                             f"length reads the same documents; drop min_tokens or raise it")
        self._ids: dict[str, list[int]] = {}

    def samples(self, tokenizer) -> Iterator[Sample]:
        """Per length, one sample per document; every document holds the longest length (shorter
        ones are skipped and counted), so each length scores the same documents."""
        c = self.config
        need = max(c["min_tokens"] or 0, max(self.lengths))
        documents, skipped, longest = [], 0, 0
        for name, text in load_documents(c):
            if c["num_documents"] and len(documents) >= c["num_documents"]:
                break
            if not text.strip() or document_split(text) != self.split:
                continue  # dev documents never reach a test run, nor test documents a dev run
            ids = tokenizer(text)["input_ids"][: c["max_tokens"]]
            longest = max(longest, len(ids))
            if len(ids) < need:
                skipped += 1
                continue
            self._ids[name] = ids
            documents.append((name, text, len(ids)))
        if not documents:
            raise ValueError(f"perplexity: no document has {need} tokens, the longest length (longest: {longest}); "
                             f"use shorter lengths or longer documents")
        if c["num_documents"] and len(documents) < c["num_documents"]:
            raise ValueError(f"perplexity: only {len(documents)} documents have {need} tokens, the longest length; "
                             f"num_documents={c['num_documents']} asks for more. Lower num_documents or the lengths, "
                             f"or add documents")
        if skipped:
            print(f"[perplexity] skipped {skipped} documents shorter than {need} tokens; scoring {len(documents)}")
        for length in self.lengths:
            for name, text, size in documents:
                yield Sample(id=f"{name}-{length}", task="perplexity", prompt=text, references=[], max_new_tokens=0,
                             chat=False, meta={"document": name, "length": length, "stride": c["stride"] or length,
                                               "document_tokens": size, "content": content_key("document", text)})

    def content_keys(self, sample: Sample) -> list[str]:
        return [sample.meta["content"]]

    def evaluate(self, sample: Sample, lm) -> dict:
        c, meta = self.config, sample.meta
        ids = self._ids.get(meta["document"])
        if ids is None:  # evaluate without samples() in this process
            ids = lm.tokenizer(sample.prompt)["input_ids"][: c["max_tokens"]]
        tokens = torch.tensor([ids], device=lm.device)
        nll, count, fed, per_window, per_block = 0.0, 0, 0, [], []
        windows = sliding_windows(len(ids), meta["length"], meta["stride"], c["max_windows"])
        for begin, end, score_from in windows:
            losses: list[float] = []
            window_sum, window_count = window_nll(lm.model, tokens[:, begin:end], score_from, c["logits_chunk"], losses)
            nll, count, fed = nll + window_sum, count + window_count, fed + end - begin
            per_window.append([window_sum, window_count])
            per_block += [[sum(losses[i:i + BLOCK_TOKENS]), len(losses[i:i + BLOCK_TOKENS])]
                          for i in range(0, len(losses), BLOCK_TOKENS)]
        mean = nll / max(count, 1)
        return {
            "id": sample.id,
            "task": sample.task,
            "prompt_tokens": fed,
            "prediction": "",
            "references": [],
            "scores": {"perplexity": math.exp(mean), "nll": mean},
            # per-window and per-block (nll sum, tokens): what a perplexity interval resamples when
            # documents (then windows) are too few
            "meta": {**meta, "nll_sum": nll, "num_tokens": count, "num_windows": len(windows), "windows": per_window,
                     "blocks": per_block},
        }

    def summarize(self, records: list[dict]) -> dict:
        """Per length: exp(total nll / total scored tokens) over all documents (token-weighted)."""
        nll, count = defaultdict(float), defaultdict(int)
        documents: dict[str, dict[str, float]] = defaultdict(dict)
        for r in records:
            n = int(r["meta"]["length"])
            nll[n] += r["meta"]["nll_sum"]
            count[n] += r["meta"]["num_tokens"]
            documents[r["meta"]["document"]][str(n)] = r["scores"]["perplexity"]
        lengths = sorted(count)
        ppl = {str(n): math.exp(nll[n] / count[n]) if count[n] else None for n in lengths}
        return {
            "perplexity": ppl,
            "nll": {str(n): nll[n] / count[n] if count[n] else None for n in lengths},
            "num_tokens": {str(n): count[n] for n in lengths},
            "documents": dict(documents),
            "tasks": {"perplexity": ppl},
            "num_samples": len(records),
        }
