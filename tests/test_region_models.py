"""Region methods inside real transformers models (tiny, random): engine == float64 reference,
below-window == stock, left padding, generate, and cached decoding."""
import pytest
import torch
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

import lampe
from lampe.attention import engine, hook
from lampe.attention.reference import reference_attention
from tests.region_cases import METHOD_PARAMS

ARCHS = {
    "llama": (LlamaConfig, LlamaForCausalLM, {}),
    "mistral": (MistralConfig, MistralForCausalLM, {"sliding_window": None}),
    "qwen2": (Qwen2Config, Qwen2ForCausalLM, {}),
    "qwen3": (Qwen3Config, Qwen3ForCausalLM, {"head_dim": 16}),
}


def build(arch="llama", seed=0):
    config_cls, model_cls, extra = ARCHS[arch]
    torch.manual_seed(seed)
    config = config_cls(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, pad_token_id=0, **extra)
    return model_cls(config).eval()


def batch(length=90, pad=17, seed=1):
    """Two rows; the second is left-padded by `pad` tokens."""
    ids = torch.randint(1, 128, (2, length), generator=torch.Generator().manual_seed(seed))
    mask = torch.ones_like(ids)
    ids[1, :pad] = 0
    mask[1, :pad] = 0
    return ids, mask


def method(name):
    return base_method(name), METHOD_PARAMS[name]


def base_method(name):
    """The registered method of a test case: lampe_two_region -> lampe, self_extend_scale_base -> self_extend."""
    return next(m for m in ("lampe", "self_extend", "chunkllama", "rerope", "string", "lm_infinite") if name.startswith(m))


def forward(model, ids, mask):
    with torch.no_grad():
        return model(ids, attention_mask=mask).logits


def reference_kernel(fixed_prefill_len=None):
    """Stand-in for the engine: float64 dense attention with the same rule (optionally a fixed L)."""

    def kernel(q, k, v, *, rule, ctx, query_pos, key_pos, key_valid, **kw):
        if fixed_prefill_len is not None:
            ctx = rule.context(key_pos, key_valid, fixed_prefill_len)
        kw = {key: value for key, value in kw.items() if key not in ("block_q", "rope_table", "backend", "memo", "workspace")}
        return reference_attention(q, k, v, rule=rule, ctx=ctx, query_pos=query_pos, key_pos=key_pos,
                                   key_valid=key_valid, **kw).to(q.dtype)

    return kernel


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(engine, "BLOCK_Q", 16)


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("name", sorted(METHOD_PARAMS))
def test_logits_equal_dense_reference(arch, name, small_blocks, monkeypatch):
    model = build(arch)
    lampe.apply_method(model, *method(name)[:1], **method(name)[1])
    ids, mask = batch()
    fast = forward(model, ids, mask)
    monkeypatch.setattr(hook, "region_attention", reference_kernel())
    slow = forward(model, ids, mask)
    real = mask.bool()
    torch.testing.assert_close(fast[real], slow[real], atol=1e-4, rtol=1e-4)


BIG = {
    "self_extend": {"window": 1000, "group": 4},
    # 90 tokens > 64 positions: mscale is tested elsewhere
    "chunkllama": {"chunk_size": 1000, "local_window": 10, "mscale": False},
    "lampe": {"local_window": 1000, "mapping_length": 300, "temperature": 1.0},
    "rerope": {"window": 1000, "log_scale": False},
    "string": {"shifted_offset": 1000, "attention_factor": 1.0},
    "lm_infinite": {"local_branch": 1000},
}


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("name", sorted(BIG))
def test_below_the_window_region_methods_equal_the_stock_model(arch, name, small_blocks):
    model = build(arch)
    ids, mask = batch()
    stock = forward(model, ids, mask)
    lampe.apply_method(model, name, **BIG[name])
    real = mask.bool()
    torch.testing.assert_close(forward(model, ids, mask)[real], stock[real], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(METHOD_PARAMS))
def test_left_padded_row_equals_the_row_alone(name, small_blocks):
    model = lampe.apply_method(build(), method(name)[0], **method(name)[1])
    ids, mask = batch(pad=17)
    padded = forward(model, ids, mask)[1, 17:]
    alone = forward(model, ids[1:, 17:], mask[1:, 17:])[0]
    torch.testing.assert_close(padded, alone, atol=1e-4, rtol=1e-4)


ALL_METHODS = {
    "original": {}, "pi": {"factor": 2.0}, "ntk": {"factor": 2.0}, "dynamic_ntk": {"factor": 2.0},
    "yarn": {"factor": 2.0}, **{method(n)[0] if n == "lampe" else n: method(n)[1] for n in METHOD_PARAMS},
}


@pytest.mark.parametrize("name", sorted(ALL_METHODS))
def test_generate_runs_batched_with_left_padding(name):
    params = dict(ALL_METHODS[name])
    base = base_method(name) if name in METHOD_PARAMS else name
    model = lampe.apply_method(build(), base, **params)
    ids, mask = batch(length=70, pad=9)
    out = model.generate(ids, attention_mask=mask, max_new_tokens=5, do_sample=False, pad_token_id=0)
    assert out.shape == (2, 75)


def generated_logits(model, ids, mask, use_cache, steps=6):
    out = model.generate(ids, attention_mask=mask, max_new_tokens=steps, do_sample=False, pad_token_id=0,
                         use_cache=use_cache, output_logits=True, return_dict_in_generate=True,
                         min_new_tokens=steps)
    return out.sequences, torch.stack(out.logits, 1)


@pytest.mark.parametrize("name", ["self_extend", "self_extend_scale_base", "chunkllama", "rerope", "rerope_leaky",
                                  "string", "lm_infinite"])
def test_cached_decoding_equals_recomputing_the_prefix(name, small_blocks):
    """Rules of positions alone (ChunkLlama without its logit scale, which cached keys keep from
    the step that cached them: tested below)."""
    params = {**METHOD_PARAMS[name], **({"mscale": False} if name == "chunkllama" else {})}
    model = lampe.apply_method(build(), base_method(name), **params)
    ids, mask = batch(length=70, pad=9)
    seq_cached, cached = generated_logits(model, ids, mask, use_cache=True)
    seq_full, full = generated_logits(model, ids, mask, use_cache=False)
    assert torch.equal(seq_cached, seq_full)
    torch.testing.assert_close(cached, full, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["lampe", "lampe_two_region", "chunkllama", "string_prompt"])
def test_decode_steps_equal_the_dense_reference_with_the_prefill_length(name, small_blocks, monkeypatch):
    """Each cached step == a fresh dense forward over the prefix that keeps the prompt's length L:
    LaMPE's L, U, B1 (two_region: m over the current length); ChunkLlama's logit scale (P = 64:
    row 0 starts past P, row 1 at 61 tokens crosses it while decoding); STRING's S from the prompt."""
    model = lampe.apply_method(build(), method(name)[0], **METHOD_PARAMS[name])
    ids, mask = batch(length=70, pad=9)
    sequences, cached = generated_logits(model, ids, mask, use_cache=True, steps=6)
    monkeypatch.setattr(hook, "region_attention", reference_kernel(mask.sum(-1)))
    for step in range(6):
        prefix = sequences[:, : 70 + step]
        prefix_mask = torch.cat([mask, torch.ones(2, step, dtype=mask.dtype)], 1)
        expected = forward(model, prefix, prefix_mask)[:, -1]
        torch.testing.assert_close(cached[:, step], expected, atol=1e-4, rtol=1e-4)


def test_lampe_decodes_far_past_the_local_window():
    """The released code crashed after W new tokens; ours decodes any number."""
    model = lampe.apply_method(build(), "lampe", local_window=8, initial_tokens=3, mapping_length=20)
    ids, mask = batch(length=40, pad=5)
    out = model.generate(ids, attention_mask=mask, max_new_tokens=30, min_new_tokens=30, do_sample=False,
                         pad_token_id=0)
    assert out.shape == (2, 70)
