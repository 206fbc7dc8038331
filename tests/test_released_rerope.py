"""ReRoPE and Leaky ReRoPE as released (bojone/rerope `rerope_patch.py`, `leaky_rerope_patch.py`).

Hand values worked out from the released files; then the released forward itself, run on CPU
from a fetched copy (`tests/releases.py`: skipped unless LAMPE_RELEASES holds bojone/rerope),
against lampe's engine and the float64 reference, prefill and decoding steps.
"""
from types import SimpleNamespace

import pytest
import torch
from transformers.models.llama.modeling_llama import repeat_kv, rotate_half

import lampe
from lampe.methods.rerope import ReRope, ReRopeRule
from tests.conftest import tiny_llama
from tests.hand_values import bound_rule, context, scale
from tests.releases import lampe_step, projections, qkv, run_release, stub_module


def dist(rule, i, j, length):
    return float(rule.distance(torch.tensor([[i]]), torch.tensor([[j]]), context(rule, length, length).rows(2)))


def test_rerope_caps_distances_at_the_window():
    rule = ReRopeRule(window=4)
    assert dist(rule, 10, 7, 11) == 3  # inside the window: exact
    assert dist(rule, 10, 6, 11) == 4  # delta = w: the cap, which is delta itself
    assert dist(rule, 10, 0, 11) == 4  # far: every key at w (the release: query at w, key un-rotated)
    assert dist(rule, 30, 0, 11) == 4  # decoding: min(delta, w) again


def test_leaky_rerope_grows_past_the_window_at_one_kth():
    # release, prefill: query at (i + w (k - 1)) / k, key at j / k; decoding: table index delta + w (k - 1), / k
    rule = ReRopeRule(window=4, leaky_factor=4.0)
    assert dist(rule, 10, 7, 11) == 3
    assert dist(rule, 10, 6, 11) == 4.0  # (4 + 12) / 4
    assert dist(rule, 10, 5, 11) == 4.25  # (5 + 12) / 4
    assert dist(rule, 10, 0, 11) == 5.5  # (10 + 12) / 4
    assert rule.query_position(1, torch.tensor([10]), None).item() == 22 / 4
    assert rule.key_position(1, torch.tensor([6]), None).item() == 6 / 4


def test_both_scale_each_querys_logits_by_log_position_over_log_training_length():
    rule = ReRopeRule(window=4, scale_base=16)  # the release: training_length = 4096 (Llama 2's window)
    assert rule.key_scale(torch.tensor([[5]]), None) is None
    assert scale(rule.query_scale, 3, rule, 4) == 1.0  # ln 4 / ln 16 = 0.5, clipped at 1
    assert scale(rule.query_scale, 255, rule, 256) == pytest.approx(2.0)
    assert scale(rule.query_scale, 4095, rule, 300, num_keys=4096) == pytest.approx(3.0)  # decoding


def test_defaults_are_the_releases():
    model = lampe.apply_method(tiny_llama(), "rerope")  # max_position_embeddings = 64
    rule = bound_rule(model)
    assert (rule.window, rule.leaky_factor, rule.scale_base) == (512, None, 64)
    assert model.lampe_method == {"name": "rerope", "window": 512, "leaky": False, "leaky_factor": None,
                                  "log_scale": True, "pretraining_length": None}
    rule = bound_rule(lampe.apply_method(model, "rerope", leaky="true", log_scale=False, pretraining_length=4096))
    assert (rule.window, rule.leaky_factor, rule.scale_base) == (512, 16.0, None)


def test_leaky_factor_needs_leaky():
    with pytest.raises(ValueError, match=r"Invalid rerope.leaky_factor=8.0: .*needs leaky=true"):
        lampe.apply_method(tiny_llama(), "rerope", leaky_factor=8)


# The released forward, run on CPU

class Rotary431:
    """transformers 4.31's LlamaRotaryEmbedding (factor 1) and LlamaLinearScalingRotaryEmbedding as
    the release calls them: (cos, sin) of shape (1, 1, seq_len, dim), positions t / factor, float32."""

    def __init__(self, inv_freq, factor=1.0):
        self.inv_freq, self.factor = inv_freq, factor

    def __call__(self, x, seq_len):
        t = torch.arange(seq_len, dtype=torch.float32) / self.factor
        emb = torch.cat([torch.outer(t, self.inv_freq)] * 2, dim=-1)
        return emb.cos()[None, None].to(x.dtype), emb.sin()[None, None].to(x.dtype)


class _Patched:  # what the release's last line patches: a stand-in, not transformers' class
    pass


def released(leaky, window, training_length, factor):
    """The release as a module; `from transformers.models.llama.modeling_llama import *` of
    transformers 4.31 gets the names the patch uses."""
    import math
    from typing import Optional, Tuple

    import torch.nn.functional as F
    from torch import nn

    old_llama = stub_module("modeling_llama", torch=torch, math=math, nn=nn, F=F, Optional=Optional, Tuple=Tuple,
                            rotate_half=rotate_half, repeat_kv=repeat_kv, LlamaAttention=_Patched,
                            LlamaRotaryEmbedding=Rotary431, LlamaLinearScalingRotaryEmbedding=Rotary431)
    path = "leaky_rerope_patch.py" if leaky else "rerope_patch.py"
    module = run_release("bojone/rerope", path, {"transformers.models.llama.modeling_llama": old_llama})
    module.window, module.training_length, module.scaling_factor = window, training_length, factor
    return module.forward_with_leaky_rerope if leaky else module.forward_with_rerope


@pytest.mark.parametrize("leaky", [False, True])
def test_lampe_equals_the_released_forward(leaky):
    window, training_length, factor, prompt, steps = 16, 32, 4, 90, 8
    forward = released(leaky, window, training_length, factor)
    inv_freq = 1.0 / (10000 ** (torch.arange(0, 16, 2, dtype=torch.float32) / 16))
    q, k, v = qkv(prompt + steps, heads=4, kv_heads=2)
    at = projections(q, k, v)
    params = {"window": window, "pretraining_length": training_length, **({"leaky": True, "leaky_factor": factor}
                                                                         if leaky else {})}
    rule = ReRope(SimpleNamespace(config=SimpleNamespace(max_position_embeddings=64)), **ReRope.parse_params(params)).rule()
    cache, worst = None, 0.0
    for start, stop in [(0, prompt)] + [(n, n + 1) for n in range(prompt, prompt + steps)]:
        self = at(start, stop)
        self.rotary_emb, self.rotary_emb2 = Rotary431(inv_freq), Rotary431(inv_freq, factor)
        mask = torch.zeros(1, 1, stop - start, stop, dtype=torch.float64)
        if start == 0:
            mask = mask.masked_fill(torch.ones(stop, stop, dtype=torch.bool).triu(1), torch.finfo(torch.float64).min)
        out, _, cache = forward(self, torch.zeros(1, stop - start, 64, dtype=torch.float64), attention_mask=mask,
                                position_ids=torch.arange(start, stop)[None], past_key_value=cache, use_cache=True)
        q_step, k_seen, v_seen = q[:, :, start:stop], k[:, :, :stop], v[:, :, :stop]
        for reference in (False, True):
            ours = lampe_step(rule, q_step, k_seen, v_seen, prompt, inv_freq, reference=reference)
            worst = max(worst, (ours - out).abs().max().item())
        if start == 0:  # the comparison can fail: one more exact position changes the prefill
            other = ReRopeRule(window + 1, rule.leaky_factor, rule.scale_base)
            assert (lampe_step(other, q_step, k_seen, v_seen, prompt, inv_freq) - out).abs().max() > 1e-2
    assert worst < 1e-5
