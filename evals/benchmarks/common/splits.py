"""Held-out tuning: every benchmark has a `dev` split for tuning and a `test` split for scores.

The two never share content, by rules that need no list of what the other split drew:
- seeds: a generated test sample keeps the seed it always had; its dev twin mixes "dev" into it;
- values (pass keys, RULER keys and values, needle facts, words to find): a value belongs to the
  split named by the lowest bit of the first byte of its SHA-256 (`value_split`), and each split
  redraws until it gets one of its own;
- positions (the passkey's filler units before the key): even counts are test, odd counts dev;
- documents (L-Eval, LongBench): a document belongs to dev when the SHA-256 of its text, read as
  a number, is DEV_RESIDUE modulo DEV_MODULUS (one in five), so copies of one text stay together
  and a partial copy of a file (LongBench's first records) splits as the full file does;
- haystacks (needle, RULER's essays): dev reads the essays from the first paragraph break after
  their middle (`rotate_half`), test from the start.
"""
from __future__ import annotations

import hashlib
import random
from typing import Callable, TypeVar

SPLITS = ("dev", "test")
DEFAULT_SPLIT = "test"
DEV_MODULUS, DEV_RESIDUE = 5, 3  # residue 3 keeps 8 of LongBench's 9 shared first records in test

T = TypeVar("T")


def split_parts(split: str, *parts):
    """Seed parts of a generated sample: test keeps its parts as they were, dev adds 'dev'."""
    return parts if split == "test" else ("dev", *parts)


def sample_id(prefix: str, split: str, *parts) -> str:
    """`prefix-a-b` for test (the ids runs always had), `prefix-dev-a-b` for dev."""
    return "-".join(str(p) for p in (prefix, *split_parts(split), *parts))


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def value_split(value) -> str:
    """The split a drawn value (key, number, word) belongs to: the lowest bit of its hash's first byte."""
    return "dev" if _digest(str(value))[0] & 1 else "test"


def draw(rng: random.Random, make: Callable[[random.Random], T], split: str, tries: int = 200) -> T:
    """`make(rng)` until it returns a value of `split` (two draws on average)."""
    for _ in range(tries):
        value = make(rng)
        if value_split(value) == split:
            return value
    raise ValueError(f"no value of split '{split}' in {tries} draws: the value space is too small to split")


def own_values(values, split: str) -> list:
    """The members of a pool that belong to `split` (word pools: each split draws from its half)."""
    return [v for v in values if value_split(v) == split]


def position_split(units_before: int) -> str:
    """The split a position (filler units before the key) belongs to: even test, odd dev."""
    return "test" if units_before % 2 == 0 else "dev"


def own_position(units_before: int, total: int, split: str) -> int:
    """The nearest position of `split` to `units_before`, within [0, total] (one unit off at most)."""
    if position_split(units_before) == split:
        return units_before
    return units_before - 1 if units_before + 1 > total else units_before + 1


def document_split(text: str) -> str:
    """dev for one document in DEV_MODULUS (by its text's hash), test for the others."""
    return "dev" if int.from_bytes(_digest(text), "big") % DEV_MODULUS == DEV_RESIDUE else "test"


def content_key(kind: str, text: str) -> str:
    """A short name for a piece of content (a document's text): kind and 16 hex digits of its hash."""
    return f"{kind}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}"


def rotate_half(text: str) -> str:
    """The text from the first paragraph break after its middle, then its first half (dev haystacks)."""
    middle = len(text) // 2
    at = text.find("\n\n", middle)
    at = middle if at < 0 else at + 2
    return text[at:] + text[:at]
