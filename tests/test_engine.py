"""The blockwise engine against the float64 dense reference, and the reference against transformers."""
import pytest
import torch
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

from lampe.attention import kernels, rules, tiled
from lampe.attention.engine import region_attention
from lampe.attention.reference import reference_attention
from lampe.attention.rules import PlainRule
from lampe.methods.chunkllama import ChunkRule
from lampe.methods.lampe import LampeRule
from lampe.methods.lm_infinite import LambdaRule
from lampe.methods.rerope import ReRopeRule
from lampe.methods.self_extend import SelfExtendRule
from tests.region_cases import RULES

INV_FREQ = 1.0 / (10000 ** (torch.arange(0, 16, 2, dtype=torch.float32) / 16))


def inputs(batch=2, heads=4, kv_heads=2, num_queries=157, num_keys=157, pad=(0, 23), seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, num_queries, 16, generator=g)
    k = torch.randn(batch, kv_heads, num_keys, 16, generator=g)
    v = torch.randn(batch, kv_heads, num_keys, 16, generator=g)
    key_valid = torch.ones(batch, num_keys, dtype=torch.bool)
    for row, n in enumerate(pad):
        key_valid[row, :n] = False
    key_pos = (key_valid.long().cumsum(-1) - 1).clamp(min=0)
    return q, k, v, key_valid, key_pos


def both(rule, q, k, v, key_valid, key_pos, prefill_len, **blocks):
    ctx = rule.context(key_pos, key_valid, prefill_len)
    kwargs = dict(rule=rule, ctx=ctx, query_pos=key_pos[:, key_pos.shape[1] - q.shape[2]:], key_pos=key_pos,
                  key_valid=key_valid, inv_freq=INV_FREQ, rope_scaling=1.0, scaling=0.25)
    return region_attention(q, k, v, **kwargs, **blocks), reference_attention(q, k, v, **kwargs)


@pytest.fixture(params=["tiled", "masked", "flex"])
def planner(request, monkeypatch):
    """Every planner on every input; tiles even for the test rules' narrow bands (flex runs eagerly
    here: the CUDA path compiles the same mask and call). Triangles are split down to 4 rows so
    the refined tiles (`tiles.refine`) run too, and FULL tiles take several kernel calls per
    rotated key chunk, and key chunks are short enough to be rotated again within a block."""
    monkeypatch.setattr(rules, "MIN_TILE_ROWS", 1)
    monkeypatch.setattr(tiled, "TRIANGLE_ROWS", 4)
    monkeypatch.setattr(tiled, "CALL_ROWS", 5)
    monkeypatch.setattr(tiled, "KEY_CHUNK", 7)
    return request.param


@pytest.mark.parametrize("backend", ["cpu", "math"])
@pytest.mark.parametrize("name", sorted(RULES))
def test_prefill_matches_reference(name, backend, planner):
    q, k, v, key_valid, key_pos = inputs()
    out, ref = both(RULES[name], q, k, v, key_valid, key_pos, key_valid.sum(-1), block_q=32, backend=backend,
                    planner=planner)
    assert out.shape == (2, 157, 4, 16)
    real = key_valid[:, :, None, None].expand_as(out)
    torch.testing.assert_close(out[real].double(), ref[real], atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("num_queries", [1, 3])
@pytest.mark.parametrize("backend", ["cpu", "math"])
@pytest.mark.parametrize("name", sorted(RULES))
def test_decode_steps_match_reference_with_prefill_length(name, backend, num_queries, planner):
    # new queries after a prefill of 140 slots (row 1 left-padded by 23); 1 query takes the decode path
    q, k, v, key_valid, key_pos = inputs(num_queries=num_queries, num_keys=140 + num_queries)
    prefill_len = key_valid[:, :140].sum(-1)
    out, ref = both(RULES[name], q, k, v, key_valid, key_pos, prefill_len, block_q=2, backend=backend,
                    planner=planner)
    torch.testing.assert_close(out.double(), ref, atol=2e-5, rtol=1e-4)


BF16_TOLERANCE = 5e-2  # scripts/check_cuda.py's bf16 bound: outputs are means of unit-normal values


@pytest.mark.parametrize("num_queries", [157, 1])
@pytest.mark.parametrize("name", sorted(RULES))
def test_bfloat16_on_cpu_runs_the_kernels_in_bfloat16_within_its_rounding(name, num_queries, planner):
    """A bf16 model on CPU attends in bf16, as its stock SDPA does (about twice as fast as
    float32 on AVX512-BF16), and stays within bf16 rounding of the float64 reference, prefill and
    decode; float32 inputs still run in float32 (errors ~1e-6, far below)."""
    from lampe.attention.engine import compute_dtype

    q, k, v, key_valid, key_pos = inputs(num_queries=num_queries, num_keys=157)
    q, k, v = q.bfloat16(), k.bfloat16(), v.bfloat16()
    assert compute_dtype(q) == torch.bfloat16 and compute_dtype(q.float()) == torch.float32
    prefill = key_valid.sum(-1) if num_queries > 1 else key_valid[:, :156].sum(-1)
    out, ref = both(RULES[name], q, k, v, key_valid, key_pos, prefill, block_q=32, planner=planner)
    assert out.dtype == torch.bfloat16
    real = key_valid[:, -num_queries:, None, None].expand_as(out)
    error = (out.double() - ref)[real].abs().max().item()
    assert 1e-4 < error < BF16_TOLERANCE, error  # > 1e-4: the kernels did round to bf16


def test_padding_queries_give_zeros_not_nan():
    q, k, v, key_valid, key_pos = inputs()
    out, _ = both(RULES["lampe"], q, k, v, key_valid, key_pos, key_valid.sum(-1), block_q=32)
    assert torch.isfinite(out).all()


def test_reference_plain_rule_equals_transformers_rope():
    """The reference with d = i - j is exactly transformers' rotary + softmax attention."""
    q, k, v, _, _ = inputs(batch=1, pad=(0,), num_queries=50, num_keys=50)
    positions = torch.arange(50)[None]
    config = LlamaConfig(hidden_size=64, num_attention_heads=4, head_dim=16,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    cos, sin = LlamaRotaryEmbedding(config)(q, positions)
    qr, kr = apply_rotary_pos_emb(q, k, cos, sin)
    kr, vr = kr.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1)
    expected = torch.nn.functional.scaled_dot_product_attention(qr, kr, vr, is_causal=True, scale=0.25)
    ref = reference_attention(q, k, v, rule=PlainRule(), ctx=PlainRule().context(positions, None, None),
                              query_pos=positions, key_pos=positions, key_valid=None, inv_freq=INV_FREQ,
                              rope_scaling=1.0, scaling=0.25)
    torch.testing.assert_close(ref.float(), expected.transpose(1, 2), atol=2e-5, rtol=1e-4)


def test_engine_never_builds_a_full_score_matrix(monkeypatch):
    """With the math backend every score matrix is at most (group x block_q) x MATH_CHUNK."""
    seen = []
    real_matmul = torch.matmul

    def spy(a, b):
        result = real_matmul(a, b)
        seen.append(tuple(result.shape))
        return result

    monkeypatch.setattr(torch, "matmul", spy)
    monkeypatch.setattr(kernels, "MATH_CHUNK", 64)
    q, k, v, key_valid, key_pos = inputs(num_queries=300, num_keys=300, pad=(0, 0))
    rule = RULES["lampe"]
    out = region_attention(q, k, v, rule=rule, ctx=rule.context(key_pos, None, key_valid.sum(-1)),
                           query_pos=key_pos, key_pos=key_pos, key_valid=None, inv_freq=INV_FREQ,
                           rope_scaling=1.0, scaling=0.25, block_q=32, backend="math")
    assert out.shape[1] == 300
    scores = [s for s in seen if s[-1] != 16]
    assert scores and max(s[-1] for s in scores) <= 64 and max(s[-2] for s in scores) <= 2 * 32


WIDE_RULES = {
    "chunkllama": ChunkRule(chunk_size=600, local_window=100),
    "lampe": LampeRule(local_window=300, initial_tokens=50, fixed_mapping=500, sigmoid=None, temperature=1.0,
                       variant="three_region"),
    "self_extend": SelfExtendRule(window=300, group=4),
    "rerope_leaky": ReRopeRule(window=300, leaky_factor=16.0, scale_base=1000),
    "lm_infinite": LambdaRule(local_branch=700, global_branch=10, limit_distance=700),
}


def spy_calls(monkeypatch):
    """Record (query rows x keys, masked, causal) per kernel call."""
    calls = []
    real = kernels.BACKENDS["cpu"]

    def spy(q, k, v, scale, mask=None, causal=False):
        calls.append((q.shape[-2] * k.shape[-2], mask is not None, causal))
        return real(q, k, v, scale, mask, causal)

    monkeypatch.setitem(kernels.BACKENDS, "cpu", spy)
    return calls


def run_wide(name, length=2000, block_q=64, **kw):
    q, k, v, key_valid, key_pos = inputs(num_queries=length, num_keys=length, pad=(0,), batch=1)
    rule = WIDE_RULES[name]
    return region_attention(q, k, v, rule=rule, ctx=rule.context(key_pos, None, key_valid.sum(-1)), query_pos=key_pos,
                            key_pos=key_pos, key_valid=None, inv_freq=INV_FREQ, rope_scaling=1.0, scaling=0.25,
                            block_q=block_q, backend="cpu", **kw)


@pytest.mark.parametrize("name", sorted(WIDE_RULES))
def test_tiled_plan_runs_every_region_without_a_mask(name, monkeypatch):
    """Per query block a handful of unmasked calls: the diagonal and band edges use the causal flag."""
    calls = spy_calls(monkeypatch)
    run_wide(name, block_q=256)
    assert not any(masked for _, masked, _ in calls)
    assert any(causal for _, _, causal in calls)
    assert len(calls) <= 10 * (2000 // 256 + 1)


@pytest.mark.parametrize("name", sorted(WIDE_RULES))
def test_masked_plan_masks_only_narrow_strips(name, monkeypatch):
    """The fallback planner: per query block a few spans, masks only on boundary strips."""
    calls = spy_calls(monkeypatch)
    run_wide(name, planner="masked")
    masked_work = sum(n for n, masked, _ in calls if masked)
    all_work = sum(n for n, _, _ in calls)
    assert masked_work < 0.25 * all_work  # boundary strips: ~3 x block_q wide out of ~L/2 keys
    assert len(calls) <= 8 * (2000 // 64 + 1)


@pytest.mark.parametrize("name", sorted(WIDE_RULES))
def test_tiled_plan_matches_reference_on_real_widths(name, monkeypatch):
    """Blocks of 256 against bands of 300+ keys, FULL tiles split into key chunks of 100."""
    from lampe.attention import tiled

    monkeypatch.setattr(tiled, "KEY_CHUNK", 100)
    length = 1300
    q, k, v, key_valid, key_pos = inputs(num_queries=length, num_keys=length, pad=(0, 37), heads=2, kv_heads=1)
    rule = WIDE_RULES[name]
    out, ref = both(rule, q, k, v, key_valid, key_pos, key_valid.sum(-1), block_q=256, planner="tiled")
    real = key_valid[:, :, None, None].expand_as(out)
    torch.testing.assert_close(out[real].double(), ref[real], atol=2e-5, rtol=1e-4)


def test_padding_holes_use_the_masked_planner(monkeypatch):
    """Right padding or holes: tiles need contiguous tokens, so the engine falls back by itself."""
    from lampe.attention import tiled

    used = []
    real_block = tiled.TiledRow.block
    monkeypatch.setattr(tiled.TiledRow, "block", lambda self, a, b, t: used.append((a, b)) or real_block(self, a, b, t))
    q, k, v, key_valid, key_pos = inputs(pad=(0, 0))
    key_valid[1, 60:70] = False
    key_pos = (key_valid.long().cumsum(-1) - 1).clamp(min=0)
    out, ref = both(RULES["lampe"], q, k, v, key_valid, key_pos, key_valid.sum(-1), block_q=32)
    real = key_valid[:, :, None, None].expand_as(out)
    torch.testing.assert_close(out[real].double(), ref[real], atol=2e-5, rtol=1e-4)
    assert used and len(used) == -(-157 // 32)  # row 0 only


def test_unknown_planner_names_the_choices():
    q, k, v, key_valid, key_pos = inputs()
    with pytest.raises(ValueError, match="Unknown planner 'fast'. Available: flex, tiled, masked"):
        both(RULES["lampe"], q, k, v, key_valid, key_pos, key_valid.sum(-1), planner="fast")


def test_merge_into_matches_one_softmax_over_both_key_sets_and_takes_a_bf16_part():
    """Two halves of the keys merged = attention over all keys; on a GPU the part, and the
    output the tiled planner accumulates into, can be bf16 (the lse stays float32)."""
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(1, 2, n, 8, generator=g) for n in (5, 12, 12))
    whole, whole_lse = kernels.attend_math(q, k, v, 0.3)
    out, lse = kernels.attend_math(q, k[:, :, :7], v[:, :, :7], 0.3)
    part, part_lse = kernels.attend_math(q, k[:, :, 7:], v[:, :, 7:], 0.3)
    kernels.merge_into(out, lse, part.bfloat16(), part_lse)
    torch.testing.assert_close(out, whole, atol=1e-2, rtol=1e-2)
    torch.testing.assert_close(lse, whole_lse)
    half, half_lse = kernels.attend_math(q, k[:, :, :7], v[:, :, :7], 0.3)
    half = half.bfloat16()
    kernels.merge_into(half, half_lse, part.bfloat16(), part_lse)
    torch.testing.assert_close(half.float(), whole, atol=3e-2, rtol=3e-2)
    torch.testing.assert_close(half_lse, whole_lse)
    empty, empty_lse = torch.zeros_like(out), torch.full_like(lse, float("-inf"))  # rows with no key yet
    kernels.merge_into(empty, empty_lse, whole, whole_lse)
    torch.testing.assert_close(empty, whole)
    torch.testing.assert_close(empty_lse, whole_lse)


@pytest.mark.parametrize("pad, folded", [((0, 0), True), ((0, 23), False)])
def test_token_scales_fold_into_the_kernel_scale_for_one_length(pad, folded, planner, monkeypatch):
    """ChunkLlama's logit scale: rows of one length share one factor, which joins the kernel's
    scalar scale (flex: q, so the compiled kernel keeps one scale); rows of different lengths
    scale q and k per position. Both equal the reference on every planner."""
    from lampe.attention import engine, token_scales

    calls = []
    real = token_scales.scale_inputs
    monkeypatch.setattr(engine, "scale_inputs", lambda q, k, s: calls.append(1) or real(q, k, s))
    q, k, v, key_valid, key_pos = inputs(pad=pad)
    out, ref = both(RULES["chunkllama_mscale"], q, k, v, key_valid, key_pos, key_valid.sum(-1), block_q=32,
                    planner=planner)
    real_rows = key_valid[:, :, None, None].expand_as(out)
    torch.testing.assert_close(out[real_rows].double(), ref[real_rows], atol=2e-5, rtol=1e-4)
    assert bool(calls) != folded


def test_flex_keeps_one_kernel_scale_across_lengths(monkeypatch):
    """On CUDA flex_attention is compiled: a scale that changed with the length (ChunkLlama's mscale)
    would compile again per prompt length, so the factor goes into q and the scale stays put."""
    from lampe.attention import flex_planner

    seen = []
    real = flex_planner._flex

    def spy(device):
        kernel = real(device)
        return lambda q, k, v, mask, scale, gqa: seen.append(scale) or kernel(q, k, v, mask, scale, gqa)

    monkeypatch.setattr(flex_planner, "_flex", spy)
    for length in (120, 157):
        q, k, v, key_valid, key_pos = inputs(num_queries=length, num_keys=length, pad=(0, 0))
        out, ref = both(RULES["chunkllama_mscale"], q, k, v, key_valid, key_pos, key_valid.sum(-1), planner="flex")
        torch.testing.assert_close(out.double(), ref, atol=2e-5, rtol=1e-4)
    assert set(seen) == {0.25}
