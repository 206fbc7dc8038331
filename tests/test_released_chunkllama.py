"""ChunkLlama as released (HKUNLP/ChunkLlama `chunkllama_attn_replace.py`), by hand at small sizes.

Worked out from the released file, not from lampe's code (issue #15).
"""
import math
from types import SimpleNamespace

import pytest
import torch

import lampe
from lampe.methods.chunkllama import ChunkLlama, ChunkRule
from tests.conftest import tiny_llama
from tests.hand_values import bound_rule, context, d, scale


def released_mscale(length, pretraining):
    """get_mscale(seq_len / P): 0.05 ln(L / P) + 1 past P, else 1."""
    return 0.05 * math.log(length / pretraining) + 1 if length > pretraining else 1.0


def test_chunkllama_logit_scale_prefill_and_decode():
    rule = ChunkRule(chunk_size=12, local_window=4, mscale_length=16)
    q, k = rule.query_scale, rule.key_scale
    # prefill of L = 32 = 2P: every query and key at 0.05 ln 2 + 1 (logits x 1.07)
    assert scale(q, 31, rule, 32) == pytest.approx(1 + 0.05 * math.log(2))
    assert scale(q, 0, rule, 32) == pytest.approx(1 + 0.05 * math.log(2))
    assert scale(k, 5, rule, 32) == pytest.approx(1 + 0.05 * math.log(2))
    assert (1 + 0.05 * math.log(2)) ** 2 == pytest.approx(1.0706, abs=1e-4)
    # decode step with 40 keys (query at 39): the query takes L = 40; a key cached by the prefill
    # keeps 32's factor, the key cached at the step of 36 keys keeps 36's
    assert scale(q, 39, rule, 32, num_keys=40) == pytest.approx(1 + 0.05 * math.log(40 / 16))
    assert scale(k, 10, rule, 32, num_keys=40) == pytest.approx(1 + 0.05 * math.log(2))
    assert scale(k, 35, rule, 32, num_keys=40) == pytest.approx(1 + 0.05 * math.log(36 / 16))
    # a prefill within P has no scale; decoding past P turns it on for the new tokens only
    assert scale(q, 11, rule, 12) == 1.0
    assert scale(q, 20, rule, 12, num_keys=21) == pytest.approx(released_mscale(21, 16))
    assert scale(k, 5, rule, 12, num_keys=21) == 1.0
    assert scale(k, 17, rule, 12, num_keys=21) == pytest.approx(released_mscale(18, 16))


def test_chunkllama_mscale_false_is_the_first_release():
    rule = ChunkRule(chunk_size=12, local_window=4, mscale_length=None)
    assert rule.query_scale(torch.tensor([[40]]), context(rule, 41, 32).rows(2)) is None
    model = lampe.apply_method(tiny_llama(), "chunkllama", mscale="false")
    assert bound_rule(model).mscale_length is None


def test_chunkllama_older_chunks_query_when_the_window_is_wide():
    # chunk_size 10, local_window 6: s = 4; older chunks see the query at min(2s - 1, 10) = 7
    rule = ChunkRule(chunk_size=10, local_window=6)
    assert d(rule, 14, 1, 15) == 7 - 1 % 4 == 6
    assert d(rule, 14, 9, 15) == min(4 + 14 % 4, 10) - 9 % 4 == 5  # previous chunk unchanged
    assert d(rule, 30, 3, 20, num_keys=31) == 7 - 3 == 4  # a decode step past L
    # 2 * local_window < chunk_size: 2s - 1 >= chunk_size, so the query stays at chunk_size
    assert d(ChunkRule(chunk_size=10, local_window=4), 14, 3, 15) == 10 - 3


def test_chunkllama_defaults_are_the_releases():
    model = lampe.apply_method(tiny_llama(max_position_embeddings=64), "chunkllama")
    assert model.lampe_method == {"name": "chunkllama", "chunk_size": 48, "local_window": 8, "mscale": True,
                                  "pretraining_length": None}
    assert bound_rule(model).mscale_length == 64
    # mscale's P is the model's max_position_embeddings (the release's rotary module); pretraining_length sets chunks
    model = lampe.apply_method(tiny_llama(max_position_embeddings=64), "chunkllama", pretraining_length=32)
    assert (model.lampe_method["chunk_size"], model.lampe_method["local_window"]) == (24, 4)
    assert bound_rule(model).mscale_length == 64
    stub = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=4096))
    values = ChunkLlama(stub, **ChunkLlama.parse_params({"pretraining_length": 8192})).values
    assert (values["chunk_size"], values["local_window"]) == (6144, 1024)
