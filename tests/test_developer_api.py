"""lampe.developer: the rule a method installs, built without a model, is the rule the model runs."""
from __future__ import annotations

import pytest
import torch

import lampe
from lampe.developer import PlainRule, method_rule, reference_attention, region_attention
from tests.conftest import tiny_llama


@pytest.mark.parametrize("name, params", [("self_extend", {"window": 8, "group": 2}), ("chunkllama", {}),
                                          ("lampe", {"mapping_length": 32, "local_window": 8}),
                                          ("rerope", {"window": 8}), ("string", {"local_window": 4}),
                                          ("lm_infinite", {})])
def test_method_rule_is_the_installed_rule(name, params):
    model = tiny_llama(max_position_embeddings=64)
    lampe.apply_method(model, name, **params)
    installed = next(m.lampe_binding.rule for m in model.modules() if hasattr(m, "lampe_binding"))
    built = method_rule(name, 64, **params)
    assert type(built) is type(installed)
    i, j = torch.arange(96)[:, None], torch.arange(96)[None, :]
    ctx = built.context(torch.arange(96)[None], None, torch.tensor([96]))
    assert torch.equal(built.distance(i, j, ctx.rows(2)), installed.distance(i, j, ctx.rows(2)))


def test_method_rule_names_what_is_wrong():
    with pytest.raises(ValueError, match="Invalid self_extend.group=0"):
        method_rule("self_extend", 64, group=0)
    with pytest.raises(ValueError, match="Method 'ntk' has no distance rule"):
        method_rule("ntk", 64)
    assert isinstance(PlainRule(), object) and callable(region_attention) and callable(reference_attention)
