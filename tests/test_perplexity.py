"""Sliding-window perplexity against a direct Hugging Face computation on the tiny model."""
from __future__ import annotations

import json
import math
import random

import pytest
import torch

from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.perplexity import sliding_windows, window_nll
from evals.benchmarks.registry import get_benchmark


def make(**config):
    """Perplexity over every window of every document (the small preset's defaults cap them)."""
    return get_benchmark("perplexity")(**{"max_windows": None, "num_documents": None, **config})


@pytest.fixture
def corpus(tmp_path):
    """Two text files of random English-like words (~160 tokens each)."""
    rng = random.Random(0)
    vocabulary = "the a river stone moves slowly under bright green light while old friends talk about".split()
    for name in ("alpha", "beta"):
        words = [rng.choice(vocabulary) for _ in range(160)]
        (tmp_path / f"{name}.txt").write_text(" ".join(words) + ".\n")
    (tmp_path / "LICENSE.txt").write_text("not a document")
    return tmp_path


def reference_ppl(model, ids: list[int], length: int, stride: int) -> tuple[float, int]:
    """The HF docs loop: labels -100 except the window's new tokens; loss x exact scored count."""
    ids_t = torch.tensor([ids])
    nll, count, previous_end = 0.0, 0, 0
    for begin in range(0, len(ids), stride):
        end = min(begin + length, len(ids))
        target_length = end - previous_end
        window = ids_t[:, begin:end]
        labels = window.clone()
        labels[:, :-target_length] = -100
        with torch.no_grad():
            loss = model(window, labels=labels).loss.item()
        scored = int((labels[:, 1:] != -100).sum())
        nll, count = nll + loss * scored, count + scored
        previous_end = end
        if end == len(ids):
            break
    return math.exp(nll / count), count


def test_sliding_windows_by_hand():
    assert sliding_windows(10, 4, 2) == [(0, 4, 0), (2, 6, 2), (4, 8, 2), (6, 10, 2)]
    assert sliding_windows(10, 4, 4) == [(0, 4, 0), (4, 8, 0), (8, 10, 0)]
    assert sliding_windows(10, 4, 2, max_windows=1) == [(0, 4, 0)]
    assert sliding_windows(3, 4, 4) == [(0, 3, 0)]


def test_window_nll_matches_the_model_loss_whatever_the_logit_chunk(tiny_model):
    torch.manual_seed(0)
    ids = torch.randint(0, 1000, (1, 50))
    with torch.no_grad():
        loss = tiny_model(ids, labels=ids).loss.item()
    for chunk in (7, 1024):
        total, count = window_nll(tiny_model, ids, 0, chunk)
        assert count == 49 and total / count == pytest.approx(loss, rel=1e-5)
    labels = ids.clone()
    labels[:, :30] = -100
    with torch.no_grad():
        tail = tiny_model(ids, labels=labels).loss.item()
    total, count = window_nll(tiny_model, ids, 30, 8)
    assert count == 20 and total / count == pytest.approx(tail, rel=1e-5)


def test_evaluate_matches_the_hf_sliding_window_recipe(tiny_model, tokenizer, corpus):
    bench = make(lengths=[64, 128], stride=32, files=str(corpus), concatenate=False)
    lm = LanguageModel(tiny_model, tokenizer)
    samples = list(bench.samples(tokenizer))
    assert [s.id for s in samples] == ["alpha-64", "beta-64", "alpha-128", "beta-128"]
    for s in samples:
        record = bench.evaluate(s, lm)
        ids = tokenizer(s.prompt)["input_ids"]
        expected, count = reference_ppl(tiny_model, ids, s.meta["length"], 32)
        assert record["meta"]["num_tokens"] == count == len(ids) - 1
        assert record["scores"]["perplexity"] == pytest.approx(expected, rel=1e-5)
        assert record["prompt_tokens"] == sum(e - b for b, e, _ in sliding_windows(len(ids), s.meta["length"], 32))


def test_one_window_scores_the_first_length_tokens(tiny_model, tokenizer, corpus):
    bench = make(lengths=[100], max_windows=1, files=str(corpus / "alpha.txt"))
    sample = next(iter(bench.samples(tokenizer)))
    record = bench.evaluate(sample, LanguageModel(tiny_model, tokenizer))
    ids = tokenizer(sample.prompt)["input_ids"][:100]
    with torch.no_grad():
        loss = tiny_model(torch.tensor([ids]), labels=torch.tensor([ids])).loss.item()
    assert record["meta"]["num_tokens"] == 99 and record["scores"]["nll"] == pytest.approx(loss, rel=1e-5)


def test_one_window_is_cut_into_blocks_of_consecutive_scored_tokens(tiny_model, tokenizer, corpus, monkeypatch):
    import evals.benchmarks.perplexity as perplexity

    monkeypatch.setattr(perplexity, "BLOCK_TOKENS", 32)
    bench = make(lengths=[100], max_windows=1, files=str(corpus / "alpha.txt"))
    sample = next(iter(bench.samples(tokenizer)))
    blocks = bench.evaluate(sample, LanguageModel(tiny_model, tokenizer))["meta"]["blocks"]
    ids = torch.tensor([tokenizer(sample.prompt)["input_ids"][:100]])
    with torch.no_grad():
        logits = tiny_model(ids).logits[0].double()
    token_nll = -torch.log_softmax(logits[:-1], -1).gather(1, ids[0, 1:, None])[:, 0]  # tokens 1..99
    assert [count for _, count in blocks] == [32, 32, 32, 3]
    for k, (total, count) in enumerate(blocks):
        assert total == pytest.approx(token_nll[32 * k:32 * k + count].sum().item(), rel=1e-4)


def test_summarize_weights_documents_by_scored_tokens():
    def rec(doc, n, nll, count):
        return {"meta": {"document": doc, "length": n, "nll_sum": nll, "num_tokens": count},
                "scores": {"perplexity": math.exp(nll / count)}}

    out = make().summarize([rec("a", 64, 30.0, 10), rec("b", 64, 10.0, 30), rec("a", 128, 8.0, 4)])
    assert out["perplexity"]["64"] == pytest.approx(math.exp(1.0)) and out["num_tokens"] == {"64": 40, "128": 4}
    assert out["perplexity"]["128"] == pytest.approx(math.exp(2.0))
    assert out["documents"]["a"]["64"] == pytest.approx(math.exp(3.0))
    assert out["tasks"]["perplexity"] == out["perplexity"]


def test_the_default_documents_are_distinct_long_l_eval_inputs(tokenizer, capsys):
    samples = list(make(lengths=[2048, 16384], max_windows=1, num_documents=3).samples(tokenizer))
    names = [s.meta["document"] for s in samples]
    assert len(samples) == 6 and names[:3] == names[3:] and len(set(names)) == 3  # the same documents at each length
    assert all(s.meta["document_tokens"] >= 16384 for s in samples)  # each holds the longest window
    assert len({s.prompt for s in samples}) == 3  # independent documents, not windows of one text
    assert "documents shorter than 16384 tokens; scoring 3" in capsys.readouterr().out


def test_the_old_single_document_mode_is_explicit(tokenizer):
    sample = next(iter(make(lengths=[2048], max_windows=1, files="../shared/data/paul_graham_essays",
                            concatenate=True).samples(tokenizer)))
    assert sample.id == "paul_graham_essays-2048" and len(sample.prompt) > 500_000
    assert "LICENSE" not in sample.prompt[:2000]


def test_documents_shorter_than_the_longest_length_are_skipped_everywhere(tmp_path, tokenizer, capsys):
    rows = [{"input": "word " * 300}, {"input": "short " * 50}, {"input": "word " * 300}, {"input": "words " * 400}]
    (tmp_path / "docs.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    bench = make(lengths=[32, 128], files=str(tmp_path / "docs.jsonl"))
    ids = [s.id for s in bench.samples(tokenizer)]
    # the short one is skipped at 32 too (every length reads the same documents); the repeat is dropped
    assert ids == ["docs/0-32", "docs/3-32", "docs/0-128", "docs/3-128"]
    assert "skipped 1 documents shorter than 128 tokens; scoring 2" in capsys.readouterr().out
    with pytest.raises(ValueError, match="only 2 documents have 128 tokens.*num_documents=3"):
        list(make(lengths=[128], files=str(tmp_path / "docs.jsonl"), num_documents=3).samples(tokenizer))
    with pytest.raises(ValueError, match="min_tokens=64 is below the longest length 128"):
        make(lengths=[32, 128], min_tokens=64)
    with pytest.raises(ValueError, match="has no field 'text'. Fields: input"):
        list(make(lengths=[32], files=str(tmp_path / "docs.jsonl"), field="text").samples(tokenizer))


def test_local_dataset_through_datasets(tmp_path, tokenizer):
    rows = [{"body": "word " * 300}, {"body": "other " * 50}]
    (tmp_path / "books.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    bench = make(lengths=[128], dataset={"path": "json", "data_files": str(tmp_path / "books.jsonl"), "split": "train",
                                         "field": "body", "streaming": False})
    ids = [s.id for s in bench.samples(tokenizer)]
    assert ids == ["json/train/0-128"]  # the short second row cannot fill 128 tokens
    bad = make(lengths=[128], dataset={"path": "json", "data_files": str(tmp_path / "books.jsonl"), "split": "train"})
    with pytest.raises(ValueError, match="no field 'text'. Fields: body"):
        list(bad.samples(tokenizer))


def test_errors_name_the_problem(tmp_path, tokenizer, corpus):
    with pytest.raises(ValueError, match="no document has 4096 tokens, the longest length"):
        list(make(lengths=[64, 4096], files=str(corpus)).samples(tokenizer))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        list(make(files=str(tmp_path / "nowhere")).samples(tokenizer))
    with pytest.raises(ValueError, match="Unknown perplexity option 'window'"):
        make(window=5)
    with pytest.raises(ValueError, match="stride 4096 is longer than length 2048"):
        make(stride=4096)
    with pytest.raises(ValueError, match="files.*dataset"):
        make(files=None)
    with pytest.raises(RuntimeError, match="cannot load dataset '/nonexistent/corpus'"):
        list(make(dataset={"path": "/nonexistent/corpus"}).samples(tokenizer))
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(ValueError, match="empty"):
        list(make(files=str(tmp_path / "empty.txt")).samples(tokenizer))


@pytest.mark.slow
def test_perplexity_end_to_end_on_the_embedded_model(tmp_path):
    import lampe
    from evals.run.loop import run_benchmark

    model, tokenizer = lampe.load_model("smollm2")
    bench = make(lengths=[1024], max_windows=1)
    metrics = run_benchmark(bench, LanguageModel(model, tokenizer), tmp_path, limit=1, progress=False)
    assert 5 < metrics["perplexity"]["1024"] < 60  # the real model reads English; a random one gives ~50k
    assert metrics["num_tokens"] == {"1024": 1023}


def test_dev_and_test_runs_read_disjoint_documents(tmp_path, tokenizer):
    """A document is dev or test by its text's hash (evals.benchmarks.common.splits): the two runs never share one."""
    from evals.benchmarks.common.splits import document_split

    texts = [f"{word} " * 200 for word in ("alpha", "beta", "gamma", "delta", "more", "omega", "sigma", "words")]
    assert {document_split(t) for t in texts} == {"dev", "test"}  # the fixture has both kinds
    (tmp_path / "docs.jsonl").write_text("\n".join(json.dumps({"input": t}) for t in texts))
    seen = {}
    for split in ("dev", "test"):
        bench = make(lengths=[32], files=str(tmp_path / "docs.jsonl"), split=split)
        samples = list(bench.samples(tokenizer))
        seen[split] = {s.prompt for s in samples}
        assert seen[split] and all(document_split(t) == split for t in seen[split])
        assert all(bench.content_keys(s)[0].startswith("document:") for s in samples)
    assert not seen["dev"] & seen["test"]
