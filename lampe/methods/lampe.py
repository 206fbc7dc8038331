"""LaMPE (arXiv 2508.02308): length-aware mapping length, multi-grained attention.

L = prefill length, W = local_window, T = initial_tokens, U = mapping length (fixed, or the
scaled sigmoid of L; a named preset gives 1536 below 8192 tokens where the released code does),
m(p) = floor(U * p / (L - 1)) in integer arithmetic (`mapping_arithmetic=float32`: rounded as released),
T' = the first t >= T with m(t) != m(t + 1), B1 = W - 1 - m(W), B2 = (L - 1 - T') - m(L - 1 - T') - B1.
  delta < W:            d = delta                  (local: exact)
  W <= delta < L - T':  d = m(i) + B1 - m(j)       (middle: compressed to U)
  delta >= L - T':      d = delta - B2             (initial tokens: fine, shifted)
L < 2W: d = delta. Decoding keeps the prefill's L, U, T', B1, B2; m keeps its scale past L - 1.
`two_region` (the released `llama_sw_map.py`): no tail region, compressed as soon as the current
length n > W, m over n at every step (m(p) = floor(U p / (n - 1))), while U and B1 stay the
prefill's (B1 = 0 when L <= W).
`temperature` multiplies q and k, i.e. every logit by its square, whenever the method is on.
See docs/methods.md for where this departs from the released code.
"""
from __future__ import annotations

import math
import numbers

import torch

from lampe.attention.rules import DistanceRule, RuleContext
from lampe.methods.base import Param
from lampe.methods.region import RegionMethod
from lampe.methods.registry import register_method

# (a, b, c) of the scaled sigmoid, fitted per model family in the paper's released code.
PRESETS: dict[str, tuple[float, float, float]] = {
    "llama2": (8.673006440952035e-05, -0.648012322406978, 2489.1055552214357),
    "llama3": (1.0493097327094324e-04, -2.466638011138158, 6204.409324666837),
    "mistral": (1.0493097327094324e-04, -2.466638011138158, 24576.0),
    "llama3.1": (4.505261149632588e-05, -2.788576860718702, 82358.52413056031),
    # Not from the paper: SmolLM2-135M (8k window, W=1024, T=200), fitted by scripts/fit_sigmoid.py
    # to the U (1024-7168) with the highest passkey answer log-likelihood at 10k-24k
    # (results/study/sigmoid_fit_passkey.*): U = 6144 at five of six lengths, so the curve is nearly
    # flat (6557 at 10k, 5968 at 24k); docs/methods.md says how loosely the points pin it.
    "smollm2": (-2.8051818555649914e-05, 1.6768555228496465, 8191.999999996401),
    # The same, fitted to the lowest-perplexity U at 10k-32k (results/study/sigmoid_fit.*): it
    # compresses far more (U = 2175 at 12k) and loses the 12k pass keys that U >= 4096 finds.
    "smollm2_perplexity": (2.0096396132786296e-04, -3.1861657991356056, 6629.704310777294),
}
# The released `remap_uselen`: below 8192 tokens these presets give U = 1536 (llama3.1 has no floor).
PRESET_SHORT_CONTEXT: dict[str, tuple[int, int]] = {name: (8192, 1536) for name in ("llama2", "llama3", "mistral")}
DEFAULT_TEMPERATURE = 0.1 * math.log(2) + 1
VARIANTS = ("three_region", "two_region")
ARITHMETIC = ("exact", "float32")


def mapping_length(length: int, a: float, b: float, c: float) -> int:
    """LaMPE's scaled sigmoid: floor(c / (1 + exp(-(a * L + b)))), for a length L >= 1 tokens.

    Where exp(-(a L + b)) would overflow the sigmoid is 0 to double precision: no (a, b, L) raises.
    """
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 1:
        raise ValueError(f"mapping_length: the length L={length!r} must be a positive integer (tokens)")
    z = -(a * int(length) + b)
    return int(math.floor(c / (1.0 + math.exp(z) if z < 700 else math.inf)))


def preset_mapping_length(length: int, preset: str) -> int:
    """U for a named preset, as the released `remap_uselen` computes it (short-context floor included)."""
    short = PRESET_SHORT_CONTEXT.get(preset)
    if short is not None and length < short[0]:
        return short[1]
    return mapping_length(length, *PRESETS[preset])


def map_positions(p: torch.Tensor, mapped: torch.Tensor, denom: torch.Tensor, float32: bool = False) -> torch.Tensor:
    """m(p) = floor(U p / n), n = L - 1: in exact integers, or (`float32`) as the released
    `map_ids` computes it, `U / tensor(n) * p` in float32: torch evaluates U / tensor(n) as
    reciprocal(n) * U, so m is floor((1/n) * U * p) with each step rounded; one less at some p."""
    if float32:
        ratio = torch.reciprocal(denom.to(torch.float32)) * mapped.to(torch.float32)
        return torch.floor(ratio * p.to(torch.float32)).long()
    return (mapped * p) // denom


def first_change_at_or_after(start: int, mapped: torch.Tensor, denom: torch.Tensor, float32: bool = False):
    """Per row, the first t >= start with m(t) != m(t + 1) (`map_positions`); rows with none before n get n."""
    limit = int(denom.max().item()) if denom.numel() else 0
    t = torch.arange(start, max(limit, start + 1), device=denom.device)[None, :]
    mapped, denom = mapped[:, None], denom[:, None]
    hit = map_positions(t, mapped, denom, float32) != map_positions(t + 1, mapped, denom, float32)
    hit &= t < denom
    return torch.where(hit.any(-1), hit.float().argmax(-1) + start, denom[:, 0])


class LampeRule(DistanceRule):
    def __init__(self, local_window, initial_tokens, fixed_mapping, sigmoid, temperature, variant, preset=None,
                 arithmetic="exact"):
        """U: `fixed_mapping`, else the named `preset` (`preset_mapping_length`), else `sigmoid` (a, b, c).
        `arithmetic`: how m rounds (`map_positions`), "exact" or "float32" (the released code)."""
        self.float32 = arithmetic == "float32"
        self.window, self.initial = local_window, initial_tokens
        self.fixed_mapping, self.sigmoid, self.preset = fixed_mapping, sigmoid, preset
        self.logit_scale = temperature**2
        self.two_region = variant == "two_region"
        self.num_regions = 2 if self.two_region else 3

    def mapped_length(self, lengths: torch.Tensor) -> torch.Tensor:
        if self.fixed_mapping is not None:
            return torch.full_like(lengths, self.fixed_mapping)
        if self.preset is not None:
            values = [preset_mapping_length(int(n), self.preset) for n in lengths.tolist()]
        else:
            values = [mapping_length(int(n), *self.sigmoid) for n in lengths.tolist()]
        return torch.tensor(values, dtype=lengths.dtype, device=lengths.device)

    def context(self, key_pos, key_valid, prefill_len) -> RuleContext:
        prefill_len = prefill_len.long()
        mapped = self.mapped_length(prefill_len)  # U from the prompt length, kept while decoding
        if bool((mapped < 1).any()):
            raise ValueError(f"LaMPE mapping length must be >= 1, got {mapped.tolist()} for L={prefill_len.tolist()}")
        w = self.window
        b1 = w - 1 - map_positions(torch.full_like(prefill_len, w), mapped, (prefill_len - 1).clamp(min=1), self.float32)
        if self.two_region:  # m over the current length n; U and B1 stay the prefill's
            length = key_valid.sum(-1) if key_valid is not None else torch.full_like(prefill_len, key_pos.shape[1])
            length = length.long()
            zeros = torch.zeros_like(length)
            return RuleContext({
                "length": length, "mapped": mapped, "denom": (length - 1).clamp(min=1), "t_prime": zeros,
                "b1": torch.where(prefill_len > w, b1, zeros), "b2": zeros, "active": length > w,
            })
        length = prefill_len
        denom = (length - 1).clamp(min=1)
        t_prime = first_change_at_or_after(self.initial, mapped, denom, self.float32)
        tail = (length - 1 - t_prime).clamp(min=0)
        b2 = tail - map_positions(tail, mapped, denom, self.float32) - b1
        return RuleContext({
            "length": length, "mapped": mapped, "denom": denom, "t_prime": t_prime, "b1": b1, "b2": b2,
            "active": length >= 2 * w,
        })

    def m(self, p, ctx):
        return map_positions(p, ctx["mapped"], ctx["denom"], self.float32)

    def region(self, i, j, ctx):
        delta = i - j
        if self.two_region:
            r = (delta >= self.window).long()
        else:
            r = torch.where(delta < self.window, 0, torch.where(delta < ctx["length"] - ctx["t_prime"], 1, 2))
        return torch.where(ctx["active"], r, 0)

    def bands(self, row):
        if not row["active"]:
            return []
        if self.two_region:
            return [self.window]
        return [self.window, max(self.window, row["length"] - row["t_prime"])]

    def query_position(self, r, i, ctx):
        if r == 0:
            return i
        if r == 1:
            return self.m(i, ctx) + ctx["b1"]
        return i - ctx["b2"]

    def key_position(self, r, j, ctx):
        return self.m(j, ctx) if r == 1 else j

    def distance(self, i, j, ctx):
        delta = i - j
        middle = self.m(i, ctx) + ctx["b1"] - self.m(j, ctx)
        if self.two_region:
            d = torch.where(delta < self.window, delta, middle)
        else:
            tail = delta - ctx["b2"]
            d = torch.where(delta < self.window, delta,
                            torch.where(delta < ctx["length"] - ctx["t_prime"], middle, tail))
        return torch.where(ctx["active"], d, delta)


@register_method
class Lampe(RegionMethod):
    name = "lampe"
    params = (
        Param("local_window", int, 512, low=1, doc="W: keys this close keep exact distances"),
        Param("initial_tokens", int, 200, low=0, doc="T: leading tokens kept at fine positions"),
        Param("mapping_length", int, None, low=1, doc="U, fixed; else from a/b/c or preset"),
        Param("preset", str, None, choices=tuple(PRESETS), doc="(a, b, c) fitted per model family"),
        Param("a", float, None), Param("b", float, None), Param("c", float, None, low=0.0),
        Param("temperature", float, DEFAULT_TEMPERATURE, low=1e-6, doc="multiplies q and k"),
        Param("variant", str, "three_region", choices=VARIANTS),
        Param("mapping_arithmetic", str, "exact", choices=ARITHMETIC,
              doc="float32: m(p) rounded as the released code computes it"),
    )
    description = "LaMPE: sigmoid mapping length, local / compressed middle / initial-token regions"
    length_rule = ("U = the model's sigmoid preset, fitted on the dev split the paper's way "
            "(best U per length, then a, b, c); W and T as configured")

    @classmethod
    def check_published(cls, values):
        """The published procedure is a fitted sigmoid: a named preset (whose fit is on record)."""
        if values.get("preset") is None or values.get("mapping_length") is not None or values.get("a") is not None:
            raise ValueError(f"lampe rule=published maps U by the model's fitted preset; got preset={values.get('preset')!r}"
                             f", mapping_length={values.get('mapping_length')!r}, a/b/c={values.get('a')!r}. "
                             f"Presets: {', '.join(PRESETS)}")

    @classmethod
    def effective_params(cls, values, length, pretraining_length):
        """Adds `mapping_length`, U for this prefill length (fixed, preset or a/b/c)."""
        found = super().effective_params(values, length, pretraining_length)
        if values.get("mapping_length") is None:
            if values.get("preset") is not None:
                found["mapping_length"] = preset_mapping_length(int(length), values["preset"])
            elif values.get("a") is not None:
                found["mapping_length"] = mapping_length(int(length), values["a"], values["b"], values["c"])
        return found

    @classmethod
    def merge_defaults(cls, defaults: dict, given: dict) -> dict:
        """mapping_length, preset and a/b/c exclude each other: choosing one drops the model's other.

        a/b/c given in part take the rest from the model's preset (or its own a/b/c), so a sweep
        over c alone keeps the model's fitted a and b.
        """
        alternatives = (("mapping_length",), ("preset",), ("a", "b", "c"))
        chosen = [alt for alt in alternatives if any(key in given for key in alt)]
        if not chosen:
            return {**defaults, **given}
        kept = {k: v for k, v in defaults.items() if not any(k in alt for alt in alternatives)}
        preset = defaults.get("preset")
        if chosen == [("a", "b", "c")] and preset in PRESETS:
            kept.update(dict(zip(("a", "b", "c"), PRESETS[preset])))
        elif chosen == [("a", "b", "c")]:  # the model's own fitted a/b/c
            kept.update({k: defaults[k] for k in ("a", "b", "c") if defaults.get(k) is not None})
        return {**kept, **given}

    def __init__(self, model, **values):
        super().__init__(model, **values)
        abc = [values[k] for k in ("a", "b", "c")]
        chosen = [name for name, given in (("mapping_length", values["mapping_length"] is not None),
                                           ("preset", values["preset"] is not None),
                                           ("a/b/c", any(x is not None for x in abc))) if given]
        if len(chosen) != 1:
            raise ValueError(
                f"lampe needs exactly one of mapping_length, preset ({', '.join(PRESETS)}) or a/b/c; got "
                f"{', '.join(chosen) or 'none'}"
            )
        if chosen == ["a/b/c"] and any(x is None for x in abc):
            raise ValueError(f"lampe a/b/c must all be given, got a={abc[0]}, b={abc[1]}, c={abc[2]}")
        self.sigmoid = PRESETS[values["preset"]] if values["preset"] else (tuple(abc) if abc[0] is not None else None)

    def rule(self) -> LampeRule:
        v = self.values
        return LampeRule(v["local_window"], v["initial_tokens"], v["mapping_length"], self.sigmoid,
                         v["temperature"], v["variant"], preset=v["preset"], arithmetic=v["mapping_arithmetic"])

