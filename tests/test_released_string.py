"""STRING as released (HKUNLP/STRING `string_for_llama.py`).

Hand values worked out from the released file; then the released forward itself, run on CPU from
a fetched copy (`tests/releases.py`: skipped unless LAMPE_RELEASES holds HKUNLP/STRING), with
flash-attn replaced by a float64 stand-in, against lampe's engine and the float64 reference.
"""
import math
from types import SimpleNamespace

import pytest
import torch

import lampe
from lampe.methods.string import String, StringRule
from tests.conftest import tiny_llama
from tests.hand_values import bound_rule, context, d
from tests.releases import lampe_step, projections, qkv, run_release, stub_module


def test_distances_past_s_are_shifted_back_to_w():
    # release: the diagonal band keeps positions; the shifted part puts the query at i - S + W
    rule = StringRule(shifted_offset=6, local_window=2)
    assert d(rule, 10, 5, 11) == 5  # delta 5 < S
    assert d(rule, 10, 4, 11) == 2  # delta = S: shifted, 6 - 6 + 2
    assert d(rule, 10, 0, 11) == 6  # 10 - 6 + 2
    assert d(rule, 30, 0, 11) == 26  # decoding: the same rule, S fixed
    assert rule.query_position(1, torch.tensor([[10]]), context(rule, 11, 11).rows(2)).item() == 6


def test_shifted_length_prompt_takes_a_share_of_each_prompt():
    # the release's benchmark scripts: shifted_offset = int(shifted_ratio * test length)
    rule = StringRule(None, local_window=2, prompt_ratio=0.33)
    assert int(rule.context(torch.arange(30)[None], None, torch.tensor([30]))["s"]) == 9  # int(9.9)
    assert d(rule, 29, 20, 30) == 9 - 9 + 2  # delta = S
    assert d(rule, 40, 0, 30, num_keys=41) == 40 - 9 + 2  # decoding keeps the prompt's S
    assert int(rule.context(torch.arange(5)[None], None, torch.tensor([5]))["s"]) == 2  # at least W
    model = lampe.apply_method(tiny_llama(), "string", shifted_length="prompt", local_window=4)
    assert bound_rule(model).prompt_ratio == 0.33 and model.lampe_method["shifted_offset"] is None
    with pytest.raises(ValueError, match="shifted_length=prompt sets S from shifted_ratio; it cannot go with "
                                         "shifted_offset=30"):
        lampe.apply_method(tiny_llama(), "string", shifted_length="prompt", shifted_offset=30)


def test_every_logit_is_scaled_by_the_attention_factor_squared():
    # release: cos_cached and sin_cached (of q and k alike) times 0.1 ln 2 + 1
    assert StringRule(6, 2).logit_scale == pytest.approx((0.1 * math.log(2) + 1) ** 2)
    assert StringRule(6, 2, attention_factor=1.0).logit_scale == 1.0


def test_defaults_are_the_releases():
    model = lampe.apply_method(tiny_llama(max_position_embeddings=1000), "string")
    rule = bound_rule(model)
    assert (rule.shifted_offset, rule.local_window) == (330, 128)  # int(0.33 * L), small_local_value = 128
    assert model.lampe_method["shifted_ratio"] == 0.33
    rule = bound_rule(lampe.apply_method(model, "string", shifted_ratio=0.25, pretraining_length=4096))
    assert rule.shifted_offset == 1024


def test_bad_combinations_name_the_values():
    with pytest.raises(ValueError, match="at most one of shifted_offset or shifted_ratio; got shifted_offset=500"):
        lampe.apply_method(tiny_llama(), "string", shifted_offset=500, shifted_ratio=0.3)
    with pytest.raises(ValueError, match=r"Invalid string.local_window=128: must be at most shifted_offset=21"):
        lampe.apply_method(tiny_llama(), "string")  # P = 64: S = 21 < W


def test_a_model_default_gives_way_to_the_other_choice():
    merged = String.merge_defaults({"shifted_ratio": 0.4, "shifted_length": "prompt", "local_window": 512},
                                   {"shifted_offset": 900})
    assert merged == {"local_window": 512, "shifted_offset": 900}


# The released forward, run on CPU

def attend(q, k, v, scale, allowed):
    """float64 attention of q (b, Lq, h, d) over k, v (b, Lk, hk, d): (out, lse (b, h, Lq))."""
    group = q.shape[2] // k.shape[2]
    k, v = k.repeat_interleave(group, 2).double(), v.repeat_interleave(group, 2).double()
    scores = torch.einsum("bqhd,bkhd->bhqk", q.double(), k) * scale
    scores = scores.masked_fill(~allowed, float("-inf"))
    out = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v)
    return out.to(q.dtype), scores.logsumexp(-1)


def flash_stand_in(local_fix: int | None = None):
    """flash_attn_func and flash_attn_2_cuda.fwd_kvcache as the release calls them, in float64.
    `local_fix`: a window_size of [local_fix, 0] becomes [local_fix - 1, 0]."""

    def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1),
                        return_attn_probs=False, **_):
        left, right = window_size
        if local_fix is not None and left == local_fix and right == 0:
            left = local_fix - 1
        num_q, num_k = q.shape[1], k.shape[1]
        i = torch.arange(num_q)[:, None] + num_k - num_q  # bottom-right aligned, as flash-attn
        j = torch.arange(num_k)[None, :]
        allowed = torch.ones(num_q, num_k, dtype=torch.bool)
        if causal:
            allowed &= j <= i
        if left >= 0:
            allowed &= j >= i - left
        if right >= 0:
            allowed &= j <= i + right
        out, lse = attend(q, k, v, softmax_scale or q.shape[-1] ** -0.5, allowed)
        return (out, lse, None) if return_attn_probs else out

    def fwd_kvcache(q, k_cache, v_cache, k, v, cache_seqlens, *args):
        assert k is None and v is None and q.shape[1] == 1
        scale, causal = args[6], args[7]
        assert not causal
        n = int(cache_seqlens[0])
        return attend(q, k_cache[:, :n], v_cache[:, :n], scale or q.shape[-1] ** -0.5,
                      torch.ones(1, n, dtype=torch.bool))

    return {"flash_attn": stub_module("flash_attn", flash_attn_func=flash_attn_func, flash_attn_with_kvcache=None),
            "flash_attn_2_cuda": stub_module("flash_attn_2_cuda", fwd_kvcache=fwd_kvcache),
            "flash_attn.losses.cross_entropy": stub_module("cross_entropy", CrossEntropyLoss=None)}


def run_released(shifted_offset, local_window, prompt, steps, local_fix):
    """The released attention forward over a prompt and decoding steps: (outputs per step, inv_freq)."""
    release = run_release("HKUNLP/STRING", "string_for_llama.py",
                          flash_stand_in(shifted_offset if local_fix else None))
    release.diag_size, release.local_window = shifted_offset, local_window  # what replace_with_string sets
    release.attention_factor = 0.1 * math.log(2) + 1
    rotary = release.RotaryEmbedding(dim=16, max_position_embeddings=256, base=10000)
    q, k, v = qkv(prompt + steps, heads=4, kv_heads=2)
    at = projections(q, k, v)
    cache = {0: torch.zeros(1, 256, 2, 2, 16, dtype=torch.float64), "cache_seqlens": torch.tensor([0])}
    outputs = []
    for start, stop in [(0, prompt)] + [(n, n + 1) for n in range(prompt, prompt + steps)]:
        self = at(start, stop)
        self.rotary_emb = rotary
        out, _, cache = release.forward(self, torch.zeros(1, stop - start, 64, dtype=torch.float64), None,
                                        torch.arange(start, stop)[None], cache)
        outputs.append((start, stop, out))
    return outputs, (q, k, v), rotary.inv_freq


def test_lampe_equals_the_released_forward():
    """Decoding steps as released; the prefill once the release's diagonal band stops at delta < S
    (flash window [S - 1, 0]): as released the key at delta = S is counted twice (docs/methods.md)."""
    shifted_offset, local_window, prompt, steps = 37, 11, 100, 8
    rule = String(SimpleNamespace(config=SimpleNamespace(max_position_embeddings=64)),
                  **String.parse_params({"shifted_offset": shifted_offset, "local_window": local_window})).rule()
    for local_fix in (True, False):
        outputs, (q, k, v), inv_freq = run_released(shifted_offset, local_window, prompt, steps, local_fix)
        for start, stop, out in outputs:
            for reference in (False, True):
                ours = lampe_step(rule, q[:, :, start:stop], k[:, :, :stop], v[:, :, :stop], prompt, inv_freq,
                                  reference=reference)
                gap = (ours - out).abs().max().item()
                if local_fix or start > 0:
                    assert gap < 1e-5, (local_fix, start)
                else:  # the doubled key moves the rows i >= S
                    assert gap > 1e-2
                    torch.testing.assert_close(ours[:, :shifted_offset], out[:, :shifted_offset], atol=1e-5, rtol=0)
