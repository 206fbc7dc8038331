"""Hand-computed distances and logit factors of a rule at one step, for the released-rule tests."""
import torch


def context(rule, num_keys, prefill_len):
    """The rule's context for a step with `num_keys` keys after a prefill of `prefill_len` tokens."""
    return rule.context(torch.arange(num_keys)[None], None, torch.tensor([prefill_len]))


def d(rule, i, j, prefill_len, num_keys=None):
    """d(i, j) at the step with `num_keys` keys (default: the prefill, or the step of query i)."""
    c = context(rule, num_keys or max(prefill_len, i + 1), prefill_len).rows(2)
    return int(rule.distance(torch.tensor([[i]]), torch.tensor([[j]]), c))


def scale(fn, p, rule, prefill_len, num_keys=None):
    """`rule.query_scale` or `rule.key_scale` (fn) at position p, as a float."""
    c = context(rule, num_keys or max(prefill_len, p + 1), prefill_len).rows(2)
    return float(fn(torch.tensor([[p]]), c))


def bound_rule(model):
    """The rule a region method installed in `model`."""
    return next(m.lampe_binding.rule for m in model.modules() if hasattr(m, "lampe_binding"))
