"""Keys, values and word pools of the RULER tasks, drawn from a seeded `random.Random`.

RULER takes its words from the `wonderwords` package (noun, adjective and verb lists); we do the
same when it is installed, and otherwise use our own lists (`wordlist.py`). Common-words
extraction at long lengths needs more distinct words than either list holds; RULER then switches
to a large English dictionary, we to adjective+noun compounds ("quietriver"), rare words too.
"""
from __future__ import annotations

import random
import string
import uuid
from functools import lru_cache
from importlib.resources import files

from evals.benchmarks.ruler import wordlist


def _wonderwords(category: str) -> list[str] | None:
    try:
        text = (files("wonderwords") / "assets" / f"{category}list.txt").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return None
    return [w.strip() for w in text.splitlines() if w.strip()]


@lru_cache(maxsize=None)
def word_lists() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]:
    """(nouns, adjectives, verbs, source) from wonderwords when installed, else our own lists."""
    lists = [_wonderwords(c) for c in ("noun", "adjective", "verb")]
    if all(lists):
        return (*(tuple(x) for x in lists), "wonderwords")
    own = (wordlist.NOUNS, wordlist.ADJECTIVES, wordlist.VERBS)
    return (*(tuple(x.split()) for x in own), "lampe")


@lru_cache(maxsize=None)
def key_words() -> tuple[str, ...]:
    """RULER's needle keys: every 'adjective-noun' pair, sorted."""
    nouns, adjs, _, _ = word_lists()
    return tuple(sorted({f"{a}-{n}" for a in adjs for n in nouns}))


@lru_cache(maxsize=None)
def common_words() -> tuple[str, ...]:
    """RULER's common-words pool: nouns, adjectives and verbs, sorted and deduplicated."""
    nouns, adjs, verbs, _ = word_lists()
    return tuple(sorted(set(nouns) | set(adjs) | set(verbs)))


@lru_cache(maxsize=None)
def large_words() -> tuple[str, ...]:
    """The pool for lists longer than `common_words`: adjective+noun compounds, sorted."""
    nouns, adjs, _, _ = word_lists()
    return tuple(sorted({f"{a}{n}" for a in adjs for n in nouns if a.isalpha() and n.isalpha()}))


def random_number(rng: random.Random, digits: int = 7) -> str:
    return str(rng.randint(10 ** (digits - 1), 10**digits - 1))


def random_word(rng: random.Random) -> str:
    return rng.choice(key_words())


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


GENERATORS = {"numbers": random_number, "words": random_word, "uuids": random_uuid}


def random_value(rng: random.Random, kind: str) -> str:
    if kind not in GENERATORS:
        raise ValueError(f"Unknown needle type '{kind}'. Valid: {', '.join(GENERATORS)}")
    return GENERATORS[kind](rng)


def random_letters(rng: random.Random, length: int, alphabet: str = string.ascii_uppercase) -> str:
    return "".join(rng.choices(alphabet, k=length))
