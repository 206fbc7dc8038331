"""`min_tokens` / `max_tokens`: keep only the documents or records whose length, in the model's
tokens, lies in a range (L-Eval, LongBench)."""
from __future__ import annotations


def token_range(benchmark: str, low: int | None, high: int | None) -> tuple[int | None, int | None]:
    """(min_tokens, max_tokens) checked: an empty range is an error naming both."""
    low, high = (None if v is None else int(v) for v in (low, high))
    if low is not None and high is not None and low > high:
        raise ValueError(f"{benchmark}: min_tokens={low} exceeds max_tokens={high}: no document can qualify")
    return low, high


def in_range(tokens: int, bounds: tuple[int | None, int | None]) -> bool:
    low, high = bounds
    return (low is None or tokens >= low) and (high is None or tokens <= high)
