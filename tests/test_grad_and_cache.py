"""Region methods under autograd and with other KV caches.

Grad mode: a forward that needs gradients (attributions, an adapter on top) takes a differentiable
path; its output and its gradients match the float64 reference for every rule, and inside a
model the gradients match the stock model's where the method does not change attention.
Caches: a static (or sliding) KV cache is refused with a clear error; the dynamic cache works."""
from __future__ import annotations

import pytest
import torch

import lampe
from lampe.attention.engine import region_attention
from lampe.attention.reference import reference_attention
from tests.region_cases import METHOD_PARAMS, RULES
from tests.test_engine import INV_FREQ, inputs
from tests.test_region_models import BIG, base_method, build


def attention_and_grads(fn, q, k, v, rule, key_valid, key_pos, prefill_len, dtype):
    q, k, v = (t.detach().to(dtype).requires_grad_(True) for t in (q, k, v))
    ctx = rule.context(key_pos, key_valid, prefill_len)
    out = fn(q, k, v, rule=rule, ctx=ctx, query_pos=key_pos[:, key_pos.shape[1] - q.shape[2]:], key_pos=key_pos,
             key_valid=key_valid, inv_freq=INV_FREQ, rope_scaling=1.0, scaling=0.25)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)  # any fixed linear functional
    real = key_valid[:, key_pos.shape[1] - q.shape[2]:, None, None]  # padding query slots give zeros
    (out * weights * real).sum().backward()
    return out.detach().double(), q.grad.double(), k.grad.double(), v.grad.double()


@pytest.mark.parametrize("num_queries", [157, 3, 1])  # a prefill, new queries after a prefill, one decode step
@pytest.mark.parametrize("name", sorted(RULES))
def test_gradients_match_the_float64_reference(name, num_queries):
    q, k, v, key_valid, key_pos = inputs(num_queries=num_queries, num_keys=157)
    prefill_len = key_valid[:, : 157 - num_queries if num_queries < 157 else 157].sum(-1)
    ours = attention_and_grads(region_attention, q, k, v, RULES[name], key_valid, key_pos, prefill_len, torch.float32)
    ref = attention_and_grads(reference_attention, q, k, v, RULES[name], key_valid, key_pos, prefill_len,
                              torch.float64)
    real = key_valid[:, 157 - num_queries:, None, None]
    torch.testing.assert_close(ours[0] * real, ref[0] * real, atol=2e-5, rtol=1e-4)
    for got, want, what in zip(ours[1:], ref[1:], "qkv"):
        assert got.abs().sum() > 0, f"no gradient reaches {what}"
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-3, msg=f"d/d{what}")


def batch(length=90, pad=17, seed=1):
    ids = torch.randint(1, 128, (2, length), generator=torch.Generator().manual_seed(seed))
    mask = torch.ones_like(ids)
    ids[1, :pad] = 0
    mask[1, :pad] = 0
    return ids, mask


@pytest.mark.parametrize("name", sorted(METHOD_PARAMS))
def test_a_forward_with_grad_works_for_every_region_method(name):
    model = build("llama")
    lampe.apply_method(model, base_method(name), **METHOD_PARAMS[name])
    ids, mask = batch()
    with torch.no_grad():
        fast = model(ids, attention_mask=mask).logits
    embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    logits = model(inputs_embeds=embeds, attention_mask=mask).logits
    real = mask.bool()
    torch.testing.assert_close(logits[real], fast[real], atol=2e-5, rtol=1e-4)
    logits[real].logsumexp(-1).sum().backward()
    assert torch.isfinite(embeds.grad).all() and embeds.grad[real].abs().sum() > 0
    assert embeds.grad[~real].abs().max() == 0  # padding gets no gradient
    layers = list(model.model.layers.parameters())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in layers)


@pytest.mark.parametrize("name", sorted(BIG))
def test_gradients_equal_the_stock_model_s_inside_the_window(name):
    """Inside its window a method is plain RoPE: the same gradients as the stock model's eager attention."""
    ids, mask = batch()
    real = mask.bool()
    grads = []
    for method in ("original", name):
        model = build("llama")
        model.set_attn_implementation("eager")
        if method != "original":
            lampe.apply_method(model, name, **BIG[name])
        embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
        model(inputs_embeds=embeds, attention_mask=mask).logits[real].logsumexp(-1).sum().backward()
        grads.append(embeds.grad[real])
    torch.testing.assert_close(grads[1], grads[0], atol=1e-5, rtol=1e-4)


def generate(model, ids, **kwargs):
    with torch.no_grad():
        return model.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=0, **kwargs)[0, ids.shape[1]:]


@pytest.mark.parametrize("name", ["lampe", "self_extend", "chunkllama"])
def test_a_static_cache_is_refused_and_the_dynamic_one_serves(name):
    model = build("llama")
    prompts = [torch.randint(1, 128, (1, 40), generator=torch.Generator().manual_seed(s)) for s in range(2)]
    stock = generate(model, prompts[0])
    assert torch.equal(generate(model, prompts[0], cache_implementation="static"), stock)  # the stock model: same
    lampe.apply_method(model, base_method(name), **METHOD_PARAMS[name])
    for ids in prompts:
        dynamic = generate(model, ids)
        with pytest.raises(ValueError, match=r"region attention needs transformers' dynamic KV cache .*StaticCache"):
            generate(model, ids, cache_implementation="static")
        assert torch.equal(generate(model, ids, cache_implementation="dynamic"), dynamic)
    lampe.apply_method(model, "original")  # the check leaves with the method
    assert torch.equal(generate(model, prompts[0], cache_implementation="static"), stock)
