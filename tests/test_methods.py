"""apply_method: validation errors, frequency methods == transformers' RoPE, clean re-application."""
import copy

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

import lampe
from lampe.attention.hook import ATTENTION_NAME, IdentityRotary
from tests.conftest import tiny_llama

IDS = torch.randint(1, 128, (2, 90), generator=torch.Generator().manual_seed(0))


def logits(model, ids=IDS, **kw):
    with torch.no_grad():
        return model(ids, **kw).logits


def test_unknown_method_lists_available():
    with pytest.raises(ValueError, match=r"Unknown method 'lampee'\. Available: chunkllama, dynamic_ntk, lampe, "
                                         r"lm_infinite, ntk, original, pi, rerope, self_extend, string, yarn$"):
        lampe.apply_method(tiny_llama(), "lampee")


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("self_extend", {"windw": 4}, r"Unknown parameter 'windw' for method 'self_extend'\. Valid: window, group"),
        ("pi", {"factor": 0.5}, r"Invalid pi\.factor=0\.5: must be in \[1\.0, inf\]"),
        ("pi", {"factor": "big"}, r"Invalid pi\.factor='big': expected float"),
        ("self_extend", {"group": 2.5}, r"Invalid self_extend\.group=2\.5: expected int"),
        ("lampe", {"mapping_length": 100, "variant": "four"},
         r"Invalid lampe\.variant='four'\. Valid choices: three_region, two_region"),
        ("lampe", {"preset": "gpt"}, r"Valid choices: llama2, llama3, mistral, llama3\.1"),
        ("lampe", {}, r"exactly one of mapping_length, preset .* got none"),
        ("lampe", {"mapping_length": 100, "preset": "llama3"}, r"got mapping_length, preset"),
        ("lampe", {"a": 1e-4, "b": -2.0}, r"a/b/c must all be given"),
        ("chunkllama", {"chunk_size": 16, "local_window": 16}, r"local_window=16: must be below chunk_size=16"),
        ("yarn", {"beta_fast": 1, "beta_slow": 2}, r"beta_slow=2\.0: must not exceed beta_fast"),
    ],
)
def test_bad_parameters_name_value_and_valid_range(name, params, message):
    model = tiny_llama()
    with pytest.raises(ValueError, match=message):
        lampe.apply_method(model, name, **params)
    assert model.config._attn_implementation == "sdpa"  # a failed apply leaves the model alone


def test_string_parameters_are_coerced():
    model = lampe.apply_method(tiny_llama(), "lampe", local_window="16", mapping_length="37", temperature="1.0",
                               preset="none")
    assert model.lampe_method["local_window"] == 16 and model.lampe_method["temperature"] == 1.0


def rope_config(**rope):
    return LlamaConfig(hidden_size=64, num_attention_heads=4, max_position_embeddings=64,
                       rope_parameters={"rope_theta": 10000.0, **rope})


@pytest.mark.parametrize(
    "name, params, rope",
    [
        ("pi", {"factor": 3.0}, {"rope_type": "linear", "factor": 3.0}),
        ("yarn", {"factor": 4.0}, {"rope_type": "yarn", "factor": 4.0, "beta_fast": 32.0, "beta_slow": 1.0,
                                   "original_max_position_embeddings": 64}),
        ("yarn", {"factor": 2.0, "beta_fast": 16, "pretraining_length": 32},
         {"rope_type": "yarn", "factor": 2.0, "beta_fast": 16.0, "beta_slow": 1.0,
          "original_max_position_embeddings": 32}),
        ("dynamic_ntk", {"factor": 2.0}, {"rope_type": "dynamic", "factor": 2.0}),
    ],
)
def test_frequency_methods_equal_transformers_init_functions(name, params, rope):
    model = lampe.apply_method(tiny_llama(), name, **params)
    inv_freq, scaling = ROPE_INIT_FUNCTIONS[rope["rope_type"]](rope_config(**rope), "cpu")
    torch.testing.assert_close(model.model.rotary_emb.inv_freq, inv_freq)
    assert model.model.rotary_emb.attention_scaling == pytest.approx(scaling)
    assert model.config._attn_implementation == "sdpa"  # stock kernels


def test_static_ntk_scales_the_base():
    model = lampe.apply_method(tiny_llama(), "ntk", factor=4.0)
    dim = 16
    base = 10000.0 * 4.0 ** (dim / (dim - 2))
    expected = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
    torch.testing.assert_close(model.model.rotary_emb.inv_freq, expected)


def test_pi_logits_equal_a_model_built_with_linear_rope():
    model = tiny_llama()
    config = copy.deepcopy(model.config)
    config.rope_parameters = {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}
    expected_model = LlamaForCausalLM(config).eval()
    expected_model.load_state_dict(model.state_dict())
    lampe.apply_method(model, "pi", factor=2.0)
    torch.testing.assert_close(logits(model), logits(expected_model))


@pytest.mark.parametrize("first", ["pi", "lampe", "chunkllama"])
def test_original_restores_the_stock_model(first):
    model = tiny_llama()
    stock = logits(model)
    rotary = model.model.rotary_emb
    params = {"pi": {"factor": 2.0}, "lampe": {"mapping_length": 30, "local_window": 8},
              "chunkllama": {"chunk_size": 30, "local_window": 4}}[first]
    lampe.apply_method(model, first, **params)
    assert not torch.allclose(logits(model), stock)
    lampe.apply_method(model, "original")
    assert model.model.rotary_emb is rotary
    assert model.config.rope_parameters == {"rope_type": "default", "rope_theta": 10000.0}
    assert model.config._attn_implementation == "sdpa"
    assert not any(hasattr(m, "lampe_binding") for m in model.modules())
    torch.testing.assert_close(logits(model), stock, rtol=0, atol=0)


def test_applying_twice_leaves_no_stale_state():
    model = tiny_llama()
    lampe.apply_method(model, "ntk", factor=8.0)
    lampe.apply_method(model, "pi", factor=4.0)
    fresh = lampe.apply_method(tiny_llama(), "pi", factor=4.0)
    torch.testing.assert_close(logits(model), logits(fresh))
    # a region method after a frequency method rotates with the ORIGINAL inv_freq
    lampe.apply_method(model, "self_extend", window=8, group=2)
    assert isinstance(model.model.rotary_emb, IdentityRotary)
    assert model.config._attn_implementation == ATTENTION_NAME
    expected = 1.0 / (10000.0 ** (torch.arange(0, 16, 2, dtype=torch.float) / 16))
    torch.testing.assert_close(model.model.rotary_emb.inv_freq, expected)
    fresh = lampe.apply_method(tiny_llama(), "self_extend", window=8, group=2)
    torch.testing.assert_close(logits(model), logits(fresh))


def test_region_methods_share_one_installer():
    """A region method is its rule plus its parameters: RegionMethod installs every rule."""
    from lampe.methods.region import RegionMethod
    from lampe.methods.registry import get_method

    for name in ("self_extend", "chunkllama", "lampe"):
        cls = get_method(name)
        assert issubclass(cls, RegionMethod) and "apply" not in vars(cls), name


def test_merge_defaults_is_key_by_key_unless_a_method_says_otherwise():
    from lampe.methods.registry import get_method

    assert get_method("self_extend").merge_defaults({"window": 2048, "group": 4}, {"group": 8}) == {
        "window": 2048, "group": 8}
    # LaMPE: a mapping_length given by the user drops the model's preset
    assert get_method("lampe").merge_defaults({"preset": "llama3", "local_window": 1024}, {"mapping_length": 900}) == {
        "local_window": 1024, "mapping_length": 900}
