"""LM-Infinite as released (Glaciohound/LM-Infinite `models/llama.py`, `models/lambda_attention.py`).

Hand values worked out from the released files; then the released attention forward itself (the
efficient Lambda-mask path that the drop-in `convert_llama_model` installs), run on CPU from a
fetched copy (`tests/releases.py`: skipped unless LAMPE_RELEASES holds Glaciohound/LM-Infinite),
against lampe's engine and the float64 reference, prefill and decoding steps.
"""
from types import SimpleNamespace

import pytest
import torch
from transformers import DynamicCache, LlamaConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

import lampe
from lampe.attention.rules import NO_ATTENTION
from lampe.methods.lm_infinite import LambdaRule, LMInfinite
from tests.conftest import tiny_llama
from tests.hand_values import bound_rule, context, d
from tests.releases import lampe_step, projections, qkv, run_release, stub_module


def region(rule, i, j, num_keys):
    return int(rule.region(torch.tensor([[i]]), torch.tensor([[j]]), context(rule, num_keys, num_keys).rows(2)))


def test_lambda_shape_local_window_plus_first_tokens():
    # release: the rotated branch keeps delta < local_branch; the stationary one the first
    # global_branch keys at delta >= local_branch, query rotated to min(limit_distance, n - 1)
    rule = LambdaRule(local_branch=4, global_branch=2, limit_distance=4)
    assert d(rule, 10, 7, 12) == 3 and region(rule, 10, 7, 12) == 0  # local
    assert d(rule, 10, 1, 12) == 4 and region(rule, 10, 1, 12) == 1  # a first token, far: the limit
    assert region(rule, 10, 2, 12) == NO_ATTENTION  # the middle: not attended
    assert region(rule, 10, 6, 12) == NO_ATTENTION  # delta = local_branch: past the local window
    assert region(rule, 4, 1, 12) == 0  # a first token inside the window (delta 3): exact
    assert d(rule, 30, 0, 31) == 4 and region(rule, 30, 20, 31) == NO_ATTENTION  # decoding: the same rule


def test_a_limit_past_the_sequence_takes_the_last_position():
    # effective_limit_distance = min(limit_distance, kv_seq_len - 1): n = 12 keys, then 30
    rule = LambdaRule(local_branch=4, global_branch=2, limit_distance=100)
    assert d(rule, 11, 0, 12) == 11
    assert d(rule, 29, 0, 12, num_keys=30) == 29


def test_defaults_are_the_drop_in_replacements():
    # convert_llama_model(model, 4096, 10) on Llama-2: local_branch = limit_distance = P, global_branch = 10
    model = lampe.apply_method(tiny_llama(), "lm_infinite")
    rule = bound_rule(model)
    assert (rule.local, rule.first, rule.limit) == (64, 10, 64)
    assert model.lampe_method == {"name": "lm_infinite", "local_branch": 64, "global_branch": 10,
                                  "limit_distance": 64, "pretraining_length": None}
    rule = bound_rule(lampe.apply_method(model, "lm_infinite", local_branch=2048, global_branch=100))
    assert (rule.local, rule.first, rule.limit) == (2048, 100, 2048)
    with pytest.raises(ValueError, match=r"lm_infinite.global_branch=-1: must be in \[0, "):
        lampe.apply_method(model, "lm_infinite", global_branch=-1)


# The released forward, run on CPU

def released_forward(self, local_branch, global_branch, limit_distance):
    lambda_attention = run_release("Glaciohound/LM-Infinite", "models/lambda_attention.py")
    release = run_release("Glaciohound/LM-Infinite", "models/llama.py", {
        ".model_base": stub_module("model_base", Model_Base=object), ".lambda_attention": lambda_attention})
    # convert_llama_model's call: use_lambda_mask, no triangle offset, no top-k attention
    return release.attn_forward_factory(self, True, local_branch, global_branch, limit_distance, 0,
                                        None, None, None, None, 0)


@pytest.mark.parametrize("limit_distance", [24, 200])
def test_lampe_equals_the_released_forward(limit_distance):
    local_branch, global_branch, prompt, steps = 24, 5, 83, 8  # 83 = 3 blocks of 24 + a partial one
    q, k, v = qkv(prompt + steps, heads=2, kv_heads=2)  # the release projects keys with num_heads: no GQA
    at = projections(q, k, v)
    config = LlamaConfig(hidden_size=32, num_attention_heads=2, head_dim=16,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    shared = at(0, prompt)
    shared.rotary_emb = LlamaRotaryEmbedding(config)
    forward = released_forward(shared, local_branch, global_branch, limit_distance)
    params = {"local_branch": local_branch, "global_branch": global_branch, "limit_distance": limit_distance}
    rule = LMInfinite(SimpleNamespace(config=SimpleNamespace(max_position_embeddings=64)),
                      **LMInfinite.parse_params(params)).rule()
    cache, worst = DynamicCache(), 0.0
    for start, stop in [(0, prompt)] + [(n, n + 1) for n in range(prompt, prompt + steps)]:
        shared.__dict__.update({k: val for k, val in vars(at(start, stop)).items()})  # this step's q, k, v
        out, _, cache = forward(torch.zeros(1, stop - start, 32, dtype=torch.float64), attention_mask=None,
                                position_ids=torch.arange(start, stop)[None], past_key_value=cache)
        q_step, k_seen, v_seen = q[:, :, start:stop], k[:, :, :stop], v[:, :, :stop]
        for reference in (False, True):
            ours = lampe_step(rule, q_step, k_seen, v_seen, prompt, shared.rotary_emb.inv_freq, reference=reference)
            worst = max(worst, (ours - out).abs().max().item())
        if start == 0:  # the comparison can fail: attending the middle too changes the prefill
            wider = LambdaRule(local_branch, global_branch + 10, limit_distance)
            assert (lampe_step(wider, q_step, k_seen, v_seen, prompt, shared.rotary_emb.inv_freq) - out).abs().max() > 1e-2
    assert worst < 1e-5
