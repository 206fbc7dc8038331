"""Shared fixtures: the embedded tokenizer, tiny random models (no network, seconds), and the
runner's test doubles (a fake benchmark config, a model loader that returns the tiny model)."""
from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from evals.run import session
from tests.fake_benchmark import FakeBenchmark


@pytest.fixture(scope="session")
def tokenizer():
    from lampe.models import load_tokenizer

    return load_tokenizer("smollm2")


def tiny_llama(vocab_size: int = 128, max_position_embeddings: int = 64, seed: int = 0, **overrides):
    """A 2-layer random Llama with GQA (4 query / 2 KV heads, head_dim 16)."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, pad_token_id=0, **overrides,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture
def tiny_model(tokenizer):
    """A tiny random Llama sharing the embedded tokenizer's vocabulary (for benchmark tests)."""
    return tiny_llama(vocab_size=len(tokenizer), max_position_embeddings=512)


@pytest.fixture
def fake_conf(tmp_path):
    """A search-path folder with benchmark/fake.yaml, so the real conf/ composes with it."""
    folder = tmp_path / "extra_conf" / "benchmark"
    folder.mkdir(parents=True)
    (folder / "fake.yaml").write_text("name: fake_runner\nmax_length: null\nsize: 6\ntasks: null\n")
    return folder.parent


@pytest.fixture
def loads(monkeypatch, tiny_model, tokenizer):
    """Replace the model loader by the tiny model; count the loads."""
    calls = []

    def fake_load(name_or_path, **kwargs):
        calls.append(name_or_path)
        return tiny_model, tokenizer

    monkeypatch.setattr(session, "load_model", fake_load)
    FakeBenchmark.calls, FakeBenchmark.interrupt_after = 0, None
    yield calls
    FakeBenchmark.interrupt_after = None


@pytest.fixture
def every_document_is_test(monkeypatch):
    """The fixture files' every record on the test side: for tests of prompts, scoring and runs
    over a small fixture, not of the split (tests/test_splits.py and test_data_splits.py test that)."""
    from evals.benchmarks.babilong import benchmark as babilong
    from evals.benchmarks.infinitebench import benchmark as infinitebench
    from evals.benchmarks.longbench_v2 import benchmark as longbench_v2

    for module in (babilong, infinitebench, longbench_v2):
        monkeypatch.setattr(module, "document_split", lambda text: "test")
