"""InfiniteBench's three synthetic retrieval tasks, built here by the official construction
(data/construct_synthetic_dataset.py at 88b3daa; for kv_retrieval also nelson-liu/lost-in-the-middle
scripts/make_kv_retrieval_data.py), seeded, at any length. What the construction is:

- passkey / number_string: a haystack of N copies of one noise line, "The grass is green. The sky
  is blue. The sun is yellow. Here we go. There and back again.\\n", with the needle line after
  the first j of them ("The pass key is K. Remember it. K is the pass key.\\n", or the same with
  "sequence of digits"); the question is "What is the pass key?" ("What is the sequence of
  digits?"). A pass key is 5 digits drawn 0-9 each (so it may open with 0); a digit sequence is 5
  such digits, then 5 times a digit at a random place p (0..4, 0..5, ..., 0..8) is doubled in
  place, giving 10 digits. The needle places j run over range(0, N + 1, step) and each place
  holds 10 samples (the released 590 = 59 places x 10).
- kv_retrieval: a JSON object of P pairs, each key and value a fresh random UUID4 string, as
  `JSON data:\\n{"k1": "v1", "k2": "v2", ...}`; the question is `\\nKey: "k"\\nThe value
  associated with the specified key is: ` and the answer the value. Sample c of n asks for the
  pair at place int(c * P / n) (the released 500 samples: every 5th place of 2500).

Sizes. `official`: the script's table (lines: 326, 652, 1305, 2610, 5220, 10440 at 8k-256k, step
6, 12, 22, 45, 90, 180; pairs: 928 at 64k, 2500 at 128k, the released files being the 128k
ones); a length not in the table scales the 128k row. The prompt then holds whatever tokens the
model's tokenizer makes of it (the released 128k kv prompts are ~175k Llama tokens; the model's
script cuts the middle). `fit`: the largest N (or P) whose prompt, as the model will be sent it,
plus the task's generation budget fits the length; the needle places keep the official step.

Sample c of n takes place floor(c * K / n) of the K places (n = 10 K: the official order, place
by place), so any n spreads over the depths; its keys come from a generator seeded by (seed,
task, length, c), so a sample does not change when other samples are added.

Splits (evals.benchmarks.common.splits): a dev sample's generator mixes "dev" into that seed, and
every pass key, digit sequence and asked kv pair is drawn from its split's half of the values, so
no dev sample asks for what a test sample asks for.
"""
from __future__ import annotations

import random
import uuid
from typing import Callable

from evals.benchmarks.common.sizing import derive_seed
from evals.benchmarks.common.splits import DEFAULT_SPLIT, draw, split_parts

NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n"
NEEDLES = {
    "passkey": ("The pass key is {key}. Remember it. {key} is the pass key.\n", "What is the pass key?"),
    "number_string": ("The sequence of digits is {key}. Remember it. {key} is the sequence of digits.\n",
                      "What is the sequence of digits?"),
}
OFFICIAL_LINES = {8192: 326, 16384: 652, 32768: 1305, 65536: 2610, 131072: 5220, 262144: 10440}
OFFICIAL_STEP = {8192: 6, 16384: 12, 32768: 22, 65536: 45, 131072: 90, 262144: 180}
OFFICIAL_PAIRS = {65536: 928, 131072: 2500}
SAMPLES_PER_PLACE = 10  # passkey / number_string
KV_SAMPLES = 500
RELEASED_LENGTH = 131072
SIZINGS = ("official", "fit")
TASKS = ("passkey", "number_string", "kv_retrieval")


def _scaled(table: dict[int, int], length: int) -> int:
    return table[length] if length in table else max(1, round(length * table[RELEASED_LENGTH] / RELEASED_LENGTH))


def official_size(task: str, length: int) -> int:
    """Noise lines (passkey, number_string) or pairs (kv_retrieval) of the official table."""
    return _scaled(OFFICIAL_PAIRS if task == "kv_retrieval" else OFFICIAL_LINES, length)


def official_step(length: int) -> int:
    return _scaled(OFFICIAL_STEP, length)


def pass_key(rng: random.Random) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(5))


def digit_sequence(rng: random.Random) -> str:
    digits = [str(rng.randint(0, 9)) for _ in range(5)]
    for k in range(5):
        place = rng.randint(0, 4 + k)
        digits.insert(place, digits[place])
    return "".join(digits)


def uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def needle_record(task: str, key: str, lines: int, place: int) -> dict:
    needle, question = NEEDLES[task]
    context = NOISE * place + needle.format(key=key) + NOISE * (lines - place)
    return {"context": context, "input": question, "answer": key}


def kv_record(pairs: list[tuple[str, str]], asked: int) -> dict:
    body = ", ".join(f'"{key}": "{value}"' for key, value in pairs)
    key, value = pairs[asked]
    return {"context": "JSON data:\n{" + body + "}",
            "input": f'\nKey: "{key}"\nThe value associated with the specified key is: ', "answer": value}


class SyntheticTask:
    """One synthetic task at one length: its size (N lines or P pairs) and its samples.

    `tokens(record)` gives the prompt tokens of a record as it will be sent (needed for `fit`);
    `budget` is the length minus the generation budget."""

    def __init__(self, task: str, length: int, seed: int, sizing: str = "official",
                 tokens: Callable[[dict], int] | None = None, budget: int | None = None, split: str = DEFAULT_SPLIT):
        if task not in TASKS:
            raise ValueError(f"Unknown synthetic InfiniteBench task {task!r}. Valid: {', '.join(TASKS)}")
        if sizing not in SIZINGS:
            raise ValueError(f"Invalid InfiniteBench sizing={sizing!r}. Valid choices: {', '.join(SIZINGS)}")
        self.task, self.length, self.seed, self.sizing, self.split = task, length, seed, sizing, split
        self.step = official_step(length)
        self.tokens, self.budget = tokens, budget
        self.size = official_size(task, length) if sizing == "official" else self._fit()

    # ---- sizes ---------------------------------------------------------------------------

    def places(self, size: int | None = None) -> list[int]:
        return list(range(0, (self.size if size is None else size) + 1, self.step))

    def official_count(self) -> int:
        """Samples of the released construction at this size: 10 per needle place, or 500."""
        return KV_SAMPLES if self.task == "kv_retrieval" else SAMPLES_PER_PLACE * len(self.places())

    def _fit(self) -> int:
        """Largest size whose probe prompt fits the budget (binary search on whole units)."""
        if self.tokens is None or self.budget is None:
            raise ValueError("sizing=fit needs the model's tokenizer and a budget")

        def probe(size: int) -> int:
            return self.tokens(self._build(size, 0, 1, random.Random(derive_seed(self.seed, "probe"))))

        low, high = 1, max(2, official_size(self.task, self.length))
        if probe(low) > self.budget:
            raise ValueError(f"Invalid benchmark.lengths: InfiniteBench {self.task} at {self.length} tokens is too "
                             f"short for its prompt plus the generation budget")
        while probe(high) <= self.budget:  # the official size fits: grow until it does not
            low, high = high, high * 2
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if probe(middle) <= self.budget else (low, middle)
        return low

    # ---- samples -------------------------------------------------------------------------

    def _build(self, size: int, index: int, count: int, rng: random.Random) -> dict:
        if self.task == "kv_retrieval":
            pairs, seen = [], set()
            while len(pairs) < size:
                key = uuid4(rng)
                if key not in seen:
                    seen.add(key)
                    pairs.append((key, uuid4(rng)))
            asked = index * size // count
            key = draw(rng, uuid4, self.split)  # the pair asked for: from this split's half
            while key in seen:
                key = draw(rng, uuid4, self.split)
            pairs[asked] = (key, draw(rng, uuid4, self.split))
            return {**kv_record(pairs, asked), "meta": {"pairs": size, "place": asked, "depth": asked / size, "key": key}}
        places = self.places(size)
        place = places[index * len(places) // count]
        key = draw(rng, pass_key if self.task == "passkey" else digit_sequence, self.split)
        return {**needle_record(self.task, key, size, place),
                "meta": {"lines": size, "place": place, "depth": place / size}}

    def record(self, index: int, count: int) -> dict:
        """Sample `index` of `count`: context, input, answer and meta (size, needle place, depth).
        Under `fit` a sample whose own keys make it longer than the budget loses units until it fits."""
        if not 0 <= index < count:
            raise ValueError(f"sample index {index} outside 0..{count - 1}")
        size = self.size
        while True:
            rng = random.Random(derive_seed(self.seed, self.task, self.length, *split_parts(self.split, index)))
            row = self._build(size, index, count, rng)
            if self.sizing == "official" or size == 1 or self.tokens(row) <= self.budget:
                return row
            size -= 1
