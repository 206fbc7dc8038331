"""Equal footing: each method's published rule for its parameters at an input length L, checked
against values computed by hand at two lengths (P = 8192, SmolLM2's window, unless stated)."""
from __future__ import annotations

import pytest
import torch
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

import lampe
from lampe import get_method
from lampe.methods.self_extend import covered_length, published_group
from tests.conftest import tiny_llama

P = 8192


def rule(name: str, length: int, **values) -> dict:
    return get_method(name).published(length, P, values)


@pytest.mark.parametrize("name", ["pi", "ntk", "yarn"])
def test_pi_ntk_and_yarn_take_factor_l_over_p(name):
    assert rule(name, 12288) == {"factor": 1.5}
    assert rule(name, 32768) == {"factor": 4.0}
    assert rule(name, 4096) == {"factor": 1.0}  # never below the stock model
    assert rule(name, 10000) == {"factor": 1.221}  # 1.2207..., rounded up so that factor x P >= L


def test_ntk_rule_writes_the_ntk_aware_base():
    """theta' = theta x s^(d / (d - 2)): the tiny model's head dim d = 16, theta = 10000, s = 4 at 4 x 64."""
    model = tiny_llama(max_position_embeddings=64)
    factor = get_method("ntk").published(256, 64, {})["factor"]
    lampe.apply_method(model, "ntk", factor=factor)
    assert model.config.rope_parameters["rope_theta"] == pytest.approx(10000.0 * 4.0 ** (16 / 14))


def test_dynamic_ntk_takes_factor_one_whose_alpha_is_the_ntk_rules_at_every_length():
    assert rule("dynamic_ntk", 12288) == rule("dynamic_ntk", 32768) == {"factor": 1.0}
    dynamic = get_method("dynamic_ntk")
    # transformers: alpha(n) = f n / P - (f - 1). f = 2 at 32k: 7, where NTK's rule gives 4
    assert dynamic.effective_params({"factor": 2.0}, 32768, P)["alpha"] == 7.0
    assert dynamic.effective_params({"factor": 1.0}, 32768, P)["alpha"] == 4.0
    assert dynamic.effective_params({"factor": 1.0}, 12288, P)["alpha"] == 1.5
    # and transformers' own dynamic init at n = 4P equals static NTK at s = 4 (tiny model, P = 64)
    config = tiny_llama(max_position_embeddings=64).config
    config.rope_parameters = {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 1.0}
    dynamic_freq, _ = ROPE_INIT_FUNCTIONS["dynamic"](config, "cpu", seq_len=256)
    ntk = lampe.apply_method(tiny_llama(max_position_embeddings=64), "ntk", factor=4.0)
    torch.testing.assert_close(dynamic_freq, ntk.model.rotary_emb.inv_freq)


def test_yarn_records_its_attention_factor():
    found = get_method("yarn").effective_params({"factor": 4.0, "beta_fast": 32.0, "beta_slow": 1.0}, 32768, P)
    assert found["attention_factor"] == pytest.approx(0.1 * 1.3862944 + 1, abs=1e-6)
    assert found["pretraining_length"] == P


def test_self_extend_follows_the_longlm_readme_inequality():
    # W + (L - W) / G < 2/3 P = 5461.33: at 12k G = 2 gives 6656, G = 3 gives 4778 (W = 1023, a multiple of 3)
    assert rule("self_extend", 12288, window=1024) == {"group": 3, "window": 1023}
    # at 32k G = 7 gives 5558.9, G = 8 gives 4992
    assert rule("self_extend", 32768, window=1024) == {"group": 8, "window": 1024}
    assert rule("self_extend", 4096, window=1024) == {"group": 1, "window": 1024}  # inside: no grouping
    for length in (12288, 16384, 24576, 32768):
        chosen = rule("self_extend", length, window=1024)
        assert 3 * (chosen["window"] + (length - chosen["window"]) / chosen["group"]) < 2 * P
        assert covered_length(chosen["window"], chosen["group"], P) >= length
    # the study's old W = 1024, G = 4 covers (8192 - 1024) x 4 + 1024 = 29696 < 32768: it extrapolated at 32k
    assert covered_length(1024, 4, P) == 29696
    assert get_method("self_extend").effective_params({"window": 1024, "group": 8}, 32768, P)["covers"] == 58368


def test_self_extend_rule_errors_name_the_window():
    with pytest.raises(ValueError, match="window=6000 leaves no room"):
        published_group(32768, 6000, P)
    with pytest.raises(ValueError, match="exceeds window=4"):
        rule("self_extend", 32768, window=4)


def test_chunkllama_takes_three_quarters_of_the_window_at_every_length():
    assert rule("chunkllama", 12288) == rule("chunkllama", 32768) == {"chunk_size": 6144, "local_window": 1024}
    assert get_method("chunkllama").published(32768, 4096, {}) == {"chunk_size": 3072, "local_window": 512}
    found = get_method("chunkllama").effective_params({"mscale": True}, 32768, P)
    assert found["logit_scale"] == pytest.approx(0.05 * 1.3862944 + 1, abs=1e-6)


def test_lampe_maps_by_the_fitted_preset_and_records_u():
    lampe_cls = get_method("lampe")
    assert lampe_cls.published(12288, P, {"preset": "smollm2"}) == {}
    # results/study/sigmoid_fit_passkey.txt: the fitted U at 12288 and 16384
    assert lampe_cls.effective_params({"preset": "smollm2"}, 12288, P)["mapping_length"] == 6481
    assert lampe_cls.effective_params({"preset": "smollm2"}, 16384, P)["mapping_length"] == 6320
    assert lampe_cls.effective_params({"mapping_length": 4096}, 16384, P)["mapping_length"] == 4096
    lampe_cls.check_published({"preset": "smollm2"})
    with pytest.raises(ValueError, match="rule=published maps U by the model's fitted preset"):
        lampe_cls.check_published({"mapping_length": 4096})


def test_every_method_states_its_rule():
    for name in lampe.registered_methods():
        cls = get_method(name)
        assert cls.length_rule and isinstance(cls.length_rule, str)
        assert set(cls.rule_params) <= {p.name for p in cls.params}
        assert set(cls.rule_params) <= set(cls.published(16384, P, {"preset": "smollm2"}))
