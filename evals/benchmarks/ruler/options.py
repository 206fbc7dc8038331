"""Benchmark options from a config: defaults filled in, unknown keys and bad lengths named.

Shared by the synthetic benchmarks (RULER, needle, passkey, perplexity).
"""
from __future__ import annotations


def _plain(value):
    """OmegaConf containers (from Hydra) to plain Python."""
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(value):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    return value


def check_config(name: str, config: dict, defaults: dict) -> dict:
    """Defaults filled in; an unknown key is an error naming the valid ones. A benchmark without a
    dev split (no `split` default) takes `split: test` and refuses `split: dev`, rather than tune on
    its test content unknowingly."""
    if "split" in config and "split" not in defaults:
        config = dict(config)
        if _plain(config.pop("split")) != "test":
            raise ValueError(f"{name} has no dev split (its content has no dev/test construction yet): "
                             f"split=test is the only choice")
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ValueError(f"Unknown {name} option '{unknown[0]}'. Valid: {', '.join(defaults)}")
    return {**defaults, **{k: _plain(v) for k, v in config.items()}}


def check_lengths(name: str, lengths) -> list[int]:
    if isinstance(lengths, int):
        lengths = [lengths]
    if not lengths or any(not isinstance(n, int) or isinstance(n, bool) or n <= 0 for n in lengths):
        raise ValueError(f"{name}: lengths must be a non-empty list of positive integers, got {lengths!r}")
    return list(lengths)
