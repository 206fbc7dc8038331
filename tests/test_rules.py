"""Distance rules: hand-computed values, and region decomposition == the direct formula."""
import pytest
import torch

from lampe.attention.rules import NO_ATTENTION
from lampe.methods.chunkllama import ChunkRule
from lampe.methods.lampe import LampeRule, mapping_length
from lampe.methods.self_extend import SelfExtendRule
from tests.region_cases import RULES


def ctx_for(rule, length, batch=1):
    key_pos = torch.arange(length).expand(batch, length)
    return rule.context(key_pos, None, torch.full((batch,), length))


def d(rule, i, j, length):
    c = ctx_for(rule, length).rows(3)
    return int(rule.distance(torch.tensor([[[i]]]), torch.tensor([[[j]]]), c))


def test_self_extend_hand_values():
    rule = SelfExtendRule(window=4, group=2)
    assert d(rule, 10, 7, 11) == 3  # inside the window: exact
    assert d(rule, 10, 1, 11) == (10 // 2 + 4 - 4 // 2) - 1 // 2 == 7
    assert d(rule, 10, 6, 11) == (5 + 2) - 3 == 4  # delta = 4 = window: grouped


def test_chunkllama_hand_values():
    rule = ChunkRule(chunk_size=10, local_window=4)  # s = 6
    assert d(rule, 14, 13, 15) == 14 % 6 - 13 % 6 == 1  # same chunk
    assert d(rule, 14, 8, 15) == min(6 + 2, 10) - 2 == 6  # previous chunk
    assert d(rule, 17, 6, 18) == min(6 + 5, 10) - 0 == 10  # previous chunk, clipped at chunk_size
    assert d(rule, 14, 3, 15) == 10 - 3 == 7  # older chunk


def test_lampe_hand_values():
    # L = 40, W = 8, T = 3, U = 13: m(p) = 13 p // 39 = p // 3
    rule = LampeRule(local_window=8, initial_tokens=3, fixed_mapping=13, sigmoid=None, temperature=1.0,
                     variant="three_region")
    c = ctx_for(rule, 40)
    # T' = first t >= 3 with m(t) != m(t+1): m(3)=m(4)=1, m(5)=1, m(6)=2 -> t = 5
    assert int(c["t_prime"]) == 5
    b1 = 8 - 1 - 8 // 3  # 5
    assert int(c["b1"]) == b1
    b2 = (39 - 5) - 34 // 3 - b1  # 34 - 11 - 5 = 18
    assert int(c["b2"]) == b2
    assert d(rule, 39, 35, 40) == 4  # local
    assert d(rule, 39, 20, 40) == 39 // 3 + b1 - 20 // 3  # middle: 13 + 5 - 6 = 12
    assert d(rule, 39, 2, 40) == 37 - b2  # tail (delta 37 >= L - T' = 35): 19
    assert d(rule, 39, 5, 40) == 39 // 3 + b1 - 5 // 3  # delta 34 < 35: still middle
    short = ctx_for(rule, 15)  # L < 2W: plain
    assert not bool(short["active"])
    assert d(rule, 14, 0, 15) == 14


def test_mapping_length_formula():
    a, b, c = 1.0493097327094324e-04, -2.466638011138158, 6204.409324666837
    import math

    assert mapping_length(16384, a, b, c) == math.floor(c / (1 + math.exp(-(a * 16384 + b))))
    assert mapping_length(32768, a, b, c) > mapping_length(16384, a, b, c)


@pytest.mark.parametrize("name", sorted(RULES))
def test_regions_reproduce_direct_distance(name):
    rule = RULES[name]
    torch.manual_seed(1)
    for length in (20, 31, 97, 160):
        c = ctx_for(rule, length, batch=2)
        i = torch.randint(0, length + 5, (2, 300))  # includes decode positions past L - 1
        j = (i - torch.randint(0, length, (2, 300))).clamp(min=0)
        region = rule.region(i, j, c.rows(2))
        pos_q = torch.zeros_like(i)
        pos_k = torch.zeros_like(j)
        for r in range(rule.num_regions):
            pick = region == r
            pos_q = torch.where(pick, rule.query_position(r, i, c.rows(2)), pos_q)
            pos_k = torch.where(pick, rule.key_position(r, j, c.rows(2)), pos_k)
        attended = region != NO_ATTENTION  # pairs a rule leaves out have no distance to agree on
        assert torch.equal((pos_q - pos_k)[attended], rule.distance(i, j, c.rows(2))[attended]), (name, length)
        if length >= 40:
            assert len(set(region[attended].tolist())) == rule.num_regions, (name, length)


def test_rule_context_is_per_row():
    rule = RULES["lampe"]
    key_valid = torch.ones(2, 60, dtype=torch.bool)
    key_valid[1, :25] = False
    key_pos = (key_valid.long().cumsum(-1) - 1).clamp(min=0)
    c = rule.context(key_pos, key_valid, key_valid.sum(-1))
    assert c["length"].tolist() == [60, 35]
    alone = ctx_for(rule, 35)
    for key in ("t_prime", "b1", "b2"):
        assert int(c[key][1]) == int(alone[key][0])
