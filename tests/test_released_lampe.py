"""LaMPE as released (scar-on/LaMPE `llama_sw_map.py`, `remap_uselen` in `llama_cache1.py`), by hand.

Worked out from the released file, not from lampe's code (issue #15).
"""
from types import SimpleNamespace

import pytest
import torch

from lampe.methods.lampe import PRESETS, Lampe, LampeRule, mapping_length, preset_mapping_length
from tests.hand_values import context, d


def two_region(mapping=None, sigmoid=None, window=8):
    return LampeRule(local_window=window, initial_tokens=3, fixed_mapping=mapping, sigmoid=sigmoid, temperature=1.0,
                     variant="two_region")


def test_two_region_compresses_as_soon_as_the_prompt_passes_the_window():
    # L = 12 (W = 8 < L < 2W), U = 7: m(p) = floor(7 p / 11), B1 = 7 - m(8) = 7 - 5 = 2
    rule = two_region(mapping=7)
    assert d(rule, 11, 0, 12) == 7 + 2 - 0 == 9
    assert d(rule, 10, 0, 12) == 70 // 11 + 2 == 8
    assert d(rule, 11, 4, 12) == 7  # delta 7 < W: exact
    assert d(two_region(mapping=7), 7, 0, 8) == 7  # L = W: nothing to compress


def test_two_region_decoding_keeps_the_prefills_b1():
    # prefill L = 12: B1 = 2; step with 20 keys: m over n = 20, m(p) = floor(7 p / 19), B1 still 2
    rule = two_region(mapping=7)
    assert d(rule, 19, 0, 12, num_keys=20) == 7 + 2 - 0 == 9
    assert d(rule, 19, 10, 12, num_keys=20) == 7 + 2 - 70 // 19 == 6
    # a prompt within W has B1 = 0: decoding past W compresses with no bias
    assert d(rule, 11, 0, 6, num_keys=12) == 7 - 0


def test_two_region_decoding_keeps_the_prefills_mapping_length():
    # U(L) = floor(20 / (1 + exp(-(0.1 L - 2)))): U(12) = 6, U(30) = 14; the step with 30 keys keeps 6
    sigmoid = (0.1, -2.0, 20.0)
    assert (mapping_length(12, *sigmoid), mapping_length(30, *sigmoid)) == (6, 14)
    rule = two_region(sigmoid=sigmoid)
    b1 = 7 - 6 * 8 // 11  # 3
    assert d(rule, 29, 0, 12, num_keys=30) == 6 + b1 == 9
    assert d(rule, 29, 20, 12, num_keys=30) == 6 + b1 - 6 * 20 // 29 == 5


def released_map_ids(length, mapped):
    """map_ids(position_ids, 0, U) of llama_sw_map.py / llama_cache1.py, written out."""
    x = torch.arange(length)[None]
    return torch.floor(0 + ((mapped - 0) / (x.max() - x.min())) * (x - x.min())).long()


def test_float32_arithmetic_rounds_m_as_the_release():
    # L = 26, U = 5: torch gives 5 / tensor(25) = reciprocal(25) * 5 = 0.19999999 in float32, so
    # m(5), m(10), ..., m(25) come out one below the exact 1, 2, ..., 5
    assert released_map_ids(26, 5)[0, [5, 25]].tolist() == [0, 4]
    rule = LampeRule(local_window=8, initial_tokens=3, fixed_mapping=5, sigmoid=None, temperature=1.0,
                     variant="two_region", arithmetic="float32")
    b1 = 7 - 1  # m(8) = 1 either way
    assert d(rule, 25, 0, 26) == 4 + b1 == 10
    assert d(two_region(mapping=5), 25, 0, 26) == 5 + b1 == 11
    for length, mapped in ((26, 5), (16384, 1536), (12345, 3072), (70001, 6000)):
        positions = torch.arange(length)[None]
        rule_ctx = context(rule, length, length).rows(2)
        rule_ctx.values["mapped"] = torch.tensor([[mapped]])
        assert torch.equal(rule.m(positions, rule_ctx), released_map_ids(length, mapped))


# remap_uselen: named presets

@pytest.mark.parametrize("preset", ["llama2", "llama3", "mistral"])
def test_named_presets_map_short_prompts_to_1536(preset):
    assert preset_mapping_length(4096, preset) == 1536
    assert preset_mapping_length(8191, preset) == 1536
    assert preset_mapping_length(8192, preset) == mapping_length(8192, *PRESETS[preset])


def test_llama31_preset_and_explicit_abc_have_no_floor():
    assert preset_mapping_length(4096, "llama3.1") == mapping_length(4096, *PRESETS["llama3.1"]) != 1536
    stub = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=8192))
    by_name = Lampe(stub, **Lampe.parse_params({"preset": "llama3"})).rule()
    by_abc = Lampe(stub, **Lampe.parse_params(dict(zip("abc", PRESETS["llama3"])))).rule()
    assert by_name.mapped_length(torch.tensor([4096])).tolist() == [1536]
    assert by_abc.mapped_length(torch.tensor([4096])).tolist() == [715]
