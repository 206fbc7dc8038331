"""apply_method and LaMPE's mapping: clear errors, no half-applied model, no overflow."""
from __future__ import annotations

import math

import pytest
import torch

from evals.run.config import method_values
from lampe import apply_method
from lampe.methods.lampe import PRESETS, mapping_length
from tests.conftest import tiny_llama
from tests.helpers import SMOL


def test_model_without_rope_is_named():
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64, n_positions=64))
    for name in ("original", "yarn", "lampe"):
        with pytest.raises(ValueError, match="model type 'gpt2' has no rotary position embedding.*supported"):
            apply_method(gpt2, name)


def test_failed_apply_leaves_the_model_as_it_was():
    model = tiny_llama()
    ids = torch.arange(40)[None] % 100
    apply_method(model, "self_extend", window=8, group=2)
    with torch.no_grad():
        before = model(ids).logits
    with pytest.raises(ValueError, match="beta_slow"):
        apply_method(model, "yarn", factor=2.0, beta_fast=1.0, beta_slow=40.0)
    assert model.lampe_method["name"] == "self_extend"
    with torch.no_grad():
        assert torch.equal(model(ids).logits, before)


@pytest.mark.parametrize("length", [0, -5, 2.5, -1e6, True])
def test_mapping_length_needs_a_positive_integer_length(length):
    with pytest.raises(ValueError, match=r"the length L=.* must be a positive integer"):
        mapping_length(length, *PRESETS["llama3"])


def test_mapping_length_does_not_overflow():
    assert mapping_length(8192, -1.0, 0.0, 1000.0) == 0
    a, b, c = PRESETS["llama3"]
    assert mapping_length(16384, a, b, c) == math.floor(c / (1 + math.exp(-(a * 16384 + b))))


@pytest.mark.parametrize("params, message", [
    ({"name": "lampe", "mapping_length": True}, r"Invalid lampe.mapping_length=True: expected int"),
    ({"name": "self_extend", "window": 1e20}, r"Invalid self_extend.window=.*must be in \[1, 2147483647\]"),
    ({"name": "yarn", "beta_fast": 1.0, "beta_slow": 40.0}, r"Invalid yarn.beta_slow=40.0"),
])
def test_method_values_are_checked_without_a_model(params, message):
    with pytest.raises(ValueError, match=message):
        method_values(params, SMOL)


def test_a_sigmoid_mapping_to_zero_is_a_clear_error_in_the_forward():
    model = tiny_llama()
    apply_method(model, "lampe", a=-1.0, b=0.0, c=1000.0, local_window=8, initial_tokens=4)
    with pytest.raises(ValueError, match="LaMPE mapping length must be >= 1, got \\[0\\]"), torch.no_grad():
        model(torch.arange(100)[None] % 100)
