"""Each sample's own method parameters, by the rule the method's authors publish.

`method.<param>=auto` (PI/NTK/YaRN/dynamic NTK `factor`, SelfExtend `group`, ChunkLlama
`chunk_size` / `local_window`) sets that parameter per sample by the method's rule
(`Method.published`, lampe/methods); `method.rule=published` does so for every parameter the rule
sets (and asks LaMPE for its fitted preset). Before each sample the runner measures the sample as
the model will hold it, its prompt's tokens as sent plus its generation budget
(`Benchmark.model_length`: never a run-level fallback such as max_length), and reapplies the
method when the rule asks for other values (`apply_method` rebuilds only the rotary module or the
attention rule: milliseconds). After each sample the record gains `split`, `content_keys` and
`method_params`: what applied to it (`Method.effective_params` at its prompt length: the factor,
LaMPE's U, SelfExtend's W and G and the length they cover, ...).
"""
from __future__ import annotations

from evals.run.held_out import check_sample, guard_for
from lampe import apply_method, get_method

AUTO = "auto"
RULE_KEY = "rule"  # method.rule: null (values as given) | published (the authors' rule per sample)
RULES = ("published",)


def factor_for(length: int, pretraining_length: int) -> float:
    """max(1, L / P) rounded up to 1/1000: PI's published factor (NTK's and YaRN's too)."""
    return get_method("pi").published(length, pretraining_length, {})["factor"]


def auto_params(method_cfg: dict) -> list[str]:
    """The parameters set per sample: those given as `auto`, or all of the rule's under
    `rule=published`. Errors name the parameter and what the method's rule sets."""
    name = method_cfg["name"]
    cls = get_method(name)
    rule = method_cfg.get(RULE_KEY)
    if rule is not None and rule not in RULES:
        raise ValueError(f"Invalid method.rule={rule!r}. Valid choices: {', '.join(RULES)} (or null)")
    autos = [k for k, v in method_cfg.items()
             if k not in ("name", RULE_KEY) and isinstance(v, str) and v.strip().lower() == AUTO]
    for key in autos:
        if key not in cls.rule_params:
            valid = ", ".join(cls.rule_params) or "none"
            raise ValueError(f"method.{key}=auto: method '{name}' has no {key} set by a published rule "
                             f"(auto: {valid})")
    if rule == "published":
        given = [k for k in cls.rule_params if method_cfg.get(k) is not None and k not in autos]
        if given:
            raise ValueError(f"method.rule=published sets {name}'s {', '.join(cls.rule_params)} per sample "
                             f"({cls.length_rule}); drop method.{given[0]}={method_cfg[given[0]]!r} or the rule")
        return list(cls.rule_params)
    return autos


class SampleMethod:
    """The method as each sample gets it: called before a sample (applies the rule's values for
    its length), `annotate` after it (the record's split, content keys and method parameters)."""

    def __init__(self, name: str, values: dict, pretraining_length: int | None):
        self.name, self.cls = name, get_method(name)
        self.auto = [k for k, v in values.items() if v == AUTO]
        self.rule = values.get(RULE_KEY)
        self.fixed = {k: v for k, v in values.items() if k not in self.auto and k != RULE_KEY and v is not None}
        if self.auto and not pretraining_length:
            raise ValueError(f"method.{self.auto[0]}=auto needs model.pretraining_length (the trained window)")
        self.pretraining_length = int(pretraining_length) if pretraining_length else None
        self.applied = dict(self.fixed)  # the values the last sample ran with
        self.length: int | None = None  # the length the rule was applied to
        self.guard = guard_for(self.fixed)
        self.model = self.benchmark = self.lm = None

    def bind(self, model, benchmark, lm) -> "SampleMethod":
        self.model, self.benchmark, self.lm = model, benchmark, lm
        return self

    @property
    def per_sample(self) -> bool:
        """Whether anything happens before a sample: a rule to apply, or a streamed benchmark to
        check against the preset's provenance (a listed one is checked before the model loads)."""
        return bool(self.auto) or (self.guard is not None and self.benchmark.lazy_samples)

    def values_for(self, length: int) -> dict:
        """The method's values for an input of `length` tokens under the published rule."""
        chosen = self.cls.published(length, self.pretraining_length, self.fixed)
        # the rule's values of the `auto` parameters, and of any other it moves (SelfExtend's window
        # to a multiple of G); a rule parameter the user fixed stays as given
        return {**self.fixed, **{k: v for k, v in chosen.items() if k in self.auto or k not in self.cls.rule_params}}

    def __call__(self, sample) -> None:
        check_sample(self.guard, self.benchmark, sample)
        if not self.auto:
            return
        self.length = self.benchmark.model_length(sample, self.lm)
        values = self.values_for(self.length)
        if values != self.applied:
            apply_method(self.model, self.name, **values)
            self.applied = values

    def annotate(self, sample, record: dict) -> dict:
        """The record with its split, content keys and the method parameters that applied."""
        length = int(record.get("prompt_tokens") or 0) or self.length or 0
        params = self.cls.effective_params(self.applied, length, self.pretraining_length) if length else dict(self.applied)
        if self.auto:
            params["rule_length"] = self.length
        if self.rule:
            params["rule"] = self.rule
        record["split"] = self.benchmark.split
        record["content_keys"] = self.benchmark.content_keys(sample)
        record["method_params"] = params
        return record
