"""SelfExtend as released (datamllab/LongLM `self_extend_patch/Llama.py`), by hand at small sizes.

Worked out from the released file, not from lampe's code (issue #15).
"""
import pytest
import torch

import lampe
from lampe.methods.self_extend import SelfExtendRule
from tests.conftest import tiny_llama
from tests.hand_values import bound_rule, scale


def test_self_extend_rejects_window_not_a_multiple_of_group():
    with pytest.raises(ValueError, match=r"window=1000, group=3: window must be a multiple of group .*"
                                         r"window=999 or 1002.* 666\.667"):
        lampe.apply_method(tiny_llama(), "self_extend", window=1000, group=3)


def test_self_extend_scale_base_scales_queries_only():
    rule = SelfExtendRule(window=8, group=2, scale_base=16)
    assert rule.key_scale(torch.tensor([[5]]), None) is None
    assert scale(rule.query_scale, 3, rule, 4) == 1.0  # ln 4 / ln 16 = 0.5, clipped at 1
    assert scale(rule.query_scale, 255, rule, 256) == pytest.approx(2.0)  # ln 256 / ln 16
    assert scale(rule.query_scale, 4095, rule, 300, num_keys=4096) == pytest.approx(3.0)  # decoding past L
    assert SelfExtendRule(window=8, group=2).query_scale(torch.tensor([[4095]]), None) is None
    model = lampe.apply_method(tiny_llama(), "self_extend", window=8, group=2, scale_base="16")
    assert bound_rule(model).scale_base == 16 and model.lampe_method["scale_base"] == 16
