"""`--model lampe` for lm-evaluation-harness: registry, requests with region methods, batching, errors."""
from __future__ import annotations

import importlib.metadata as md
import math
from pathlib import Path

import pytest
import tomllib
import torch
from lm_eval.api.instance import Instance
from lm_eval.api.registry import Registry, get_model

import lampe
from evals.benchmarks.lm_eval_tasks.adapter import PaddedRows
from evals.run.lm_eval_cli import register_entry_points
from evals.run.lm_eval_model import LampeLM, split_model_args
from tests.conftest import tiny_llama
from tests.helpers import REPO

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lm_eval_tasks"
WORDS = ("the quick brown fox jumps over the lazy dog while seven wizards quietly hex a jovial bunch of "
         "gnomes").split()
# Region parameters small enough to act on prompts of a few dozen tokens; mapping_length makes
# LaMPE's positions depend on the prefill length L, the value padding can corrupt.
REGION = {
    "lampe": {"local_window": "8", "initial_tokens": "2", "mapping_length": "16"},
    "self_extend": {"window": "8", "group": "4"},
}


def text(n: int) -> str:
    return " ".join((WORDS * 8)[:n])


@pytest.fixture
def model(tokenizer):
    # larger init than tiny_model: attention that is far from uniform, so positions matter
    return tiny_llama(vocab_size=len(tokenizer), max_position_embeddings=512, initializer_range=0.1)


def ll_requests(lengths=(40, 25, 33, 12)):
    return [Instance("loglikelihood", {}, (text(n), " and then some more"), i) for i, n in enumerate(lengths)]


def gen_requests(lengths=(40, 25, 33)):
    kwargs = {"until": ["\n\n"], "max_gen_toks": 6, "do_sample": False}
    return [Instance("generate_until", {}, (text(n), dict(kwargs)), i) for i, n in enumerate(lengths)]


def loglikelihoods(lm, requests):
    return [value for value, _ in lm.loglikelihood(requests, disable_tqdm=True)]


@torch.no_grad()
def direct_loglikelihood(model, tokenizer, context: str, continuation: str) -> float:
    """One unpadded forward over context + continuation minus its last token, as lm-eval feeds it
    (for LaMPE the prefill length L is that input's length)."""
    n_ctx = len(tokenizer(context)["input_ids"])
    ids = tokenizer(context + continuation)["input_ids"]
    logprobs = torch.log_softmax(model(torch.tensor([ids[:-1]])).logits[0].float(), -1)
    return float(sum(logprobs[p - 1, ids[p]] for p in range(n_ctx, len(ids))))


def test_entry_point_is_declared_and_resolves_through_lm_evals_registry(monkeypatch):
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["lm_eval.models"]["lampe"] == "evals.run.lm_eval_model:LampeLM"
    # the installed metadata may predate the move (evals.lm_eval_model, kept as a re-export): either
    # resolves to the one class. What `python -m evals.lm_eval_cli` does, on an empty registry:
    installed = {ep.name: ep.value for ep in md.entry_points(group="lm_eval.models")}
    assert installed.get("lampe") in ("evals.run.lm_eval_model:LampeLM", "evals.lm_eval_model:LampeLM")
    fresh = Registry("model")
    monkeypatch.setattr("lm_eval.api.registry.model_registry", fresh)
    assert "lampe" in register_entry_points()
    assert fresh._objs["lampe"] == installed["lampe"]  # a lazy placeholder
    assert fresh.get("lampe") is LampeLM


def test_model_type_found_by_name():
    register_entry_points()
    assert get_model("lampe") is LampeLM
    assert get_model("hf").__name__ == "HFLM"  # lm-eval's own models stay registered


@pytest.mark.parametrize("method", sorted(REGION))
def test_region_method_loglikelihood_and_generation(model, tokenizer, method):
    lm = LampeLM(pretrained=model, tokenizer=tokenizer, method=method, batch_size=1, **REGION[method])
    assert model.config._attn_implementation == "lampe_region"
    assert model.lampe_method["name"] == method and lm.lampe_method["name"] == method

    requests = ll_requests((40, 12))
    got = loglikelihoods(lm, requests)
    want = [direct_loglikelihood(model, tokenizer, *r.args) for r in requests]
    assert got == pytest.approx(want, abs=1e-4)
    original = LampeLM(pretrained=model, tokenizer=tokenizer, method="original")
    assert abs(loglikelihoods(original, requests[:1])[0] - got[0]) > 1e-2  # the method changed the numbers

    lm = LampeLM(pretrained=model, tokenizer=tokenizer, method=method, **REGION[method])
    (generated,) = lm.generate_until(gen_requests((40,)), disable_tqdm=True)
    ids = torch.tensor([tokenizer(text(40))["input_ids"]])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    expected = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).split("\n\n")[0]
    assert generated == expected and generated.strip()


@pytest.mark.parametrize("method", sorted(REGION))
def test_batch_sizes_agree(model, tokenizer, method):
    """HFLM right-pads loglikelihood batches; region methods must not see the padding."""
    lampe.apply_method(model, method, **REGION[method])
    results = {bs: loglikelihoods(LampeLM(pretrained=model, tokenizer=tokenizer, batch_size=bs), ll_requests())
               for bs in (1, 2, 4)}
    assert results[2] == pytest.approx(results[1], abs=1e-4)
    assert results[4] == pytest.approx(results[1], abs=1e-4)
    generations = {bs: LampeLM(pretrained=model, tokenizer=tokenizer, batch_size=bs).generate_until(
        gen_requests((40, 25)), disable_tqdm=True) for bs in (1, 2)}  # left padding
    assert generations[2] == generations[1]


def test_without_the_padding_mask_lampe_would_depend_on_the_batch(model, tokenizer):
    """Guards the test above: plain HFLM batching does change LaMPE's numbers on these inputs."""
    from lm_eval.models.huggingface import HFLM

    lampe.apply_method(model, "lampe", **REGION["lampe"])
    single = loglikelihoods(HFLM(pretrained=model, tokenizer=tokenizer, batch_size=1), ll_requests())
    padded = loglikelihoods(HFLM(pretrained=model, tokenizer=tokenizer, batch_size=5), ll_requests())
    assert max(abs(a - b) for a, b in zip(single, padded)) > 1e-3


def test_padded_rows_find_real_lengths_even_with_trailing_zero_tokens():
    requests = [(("a", "b"), [5, 6], [7, 0]), (("c", "d"), [5], [9])]  # first row ends in a real token 0
    rows = PaddedRows(requests, max_length=16)
    inps = torch.tensor([[5, 6, 7, 0], [5, 0, 0, 0]])  # HFLM drops the last token: [5, 6, 7] and [5]
    assert rows.mask(inps).tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]
    unknown = torch.tensor([[3, 3, 0], [1, 2, 3]])
    assert rows.mask(unknown).tolist() == [[1, 1, 1], [1, 1, 1]]


@pytest.mark.parametrize(("args", "message"), [
    ({"method": "lampe", "preset": "llama3", "foo": "1"}, "Unknown parameter 'foo' for method 'lampe'. Valid: local_window"),
    ({"method": "lampe", "local_window": "wide"}, r"Invalid lampe.local_window='wide': expected int"),
    ({"method": "lampe", "preset": "llama9"}, r"Invalid lampe.preset='llama9'. Valid choices: llama2, llama3"),
    ({"method": "self_extend", "group": 0}, r"Invalid self_extend.group=0: must be in \[1, inf\]"),
    ({"method": "nope"}, "Unknown method 'nope'. Available: chunkllama"),
    ({"method": "lampe"}, "lampe needs exactly one of mapping_length, preset"),
])
def test_bad_method_parameters_fail_before_loading(args, message):
    # the path does not exist: a parameter error must come first, with apply_method's wording
    with pytest.raises(ValueError, match=message):
        LampeLM(pretrained="/nonexistent/model", **args)


def test_errors_match_apply_method(model):
    with pytest.raises(ValueError) as direct:
        lampe.apply_method(model, "lampe", local_window="wide")
    with pytest.raises(ValueError) as via_lm_eval:
        LampeLM(pretrained="/nonexistent/model", method="lampe", local_window="wide")
    assert str(via_lm_eval.value) == str(direct.value)


def test_lampe_needs_one_mapping_source(model, tokenizer):
    with pytest.raises(ValueError, match="lampe needs exactly one of mapping_length, preset"):
        LampeLM(pretrained=model, tokenizer=tokenizer, method="lampe")


def test_hflm_arguments_keep_their_meaning(model, tokenizer):
    lm = LampeLM(pretrained=model, tokenizer=tokenizer, method="self_extend", window=16, batch_size="2",
                 max_length=64, max_batch_size=8)
    assert (lm.batch_size, lm.max_length, lm.max_batch_size) == (2, 64, 8)
    assert model.lampe_method == {"name": "self_extend", "window": 16, "group": 8, "scale_base": None}
    hflm, loader, method = split_model_args({"dtype": "float32", "attn_implementation": "sdpa", "window": "4"})
    assert (hflm, loader, method) == ({"dtype": "float32"}, {"attn_implementation": "sdpa"}, {"window": "4"})
    with pytest.raises(ValueError, match="peft='x' is not supported by --model lampe"):
        split_model_args({"peft": "x"})


def test_loaded_model_keeps_its_method_unless_one_is_given(model, tokenizer):
    lampe.apply_method(model, "self_extend", window=8, group=2)
    LampeLM(pretrained=model, tokenizer=tokenizer)
    assert model.lampe_method == {"name": "self_extend", "window": 8, "group": 2, "scale_base": None}
    with pytest.raises(ValueError, match="given without method="):
        LampeLM(pretrained=model, tokenizer=tokenizer, window=4)


def test_cli_model_args_on_a_local_checkpoint(model, tokenizer, tmp_path, monkeypatch, capsys):
    """The lm-eval command line end to end: string model_args, a path, the local fixture task."""
    from evals.run import lm_eval_cli

    model.save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    monkeypatch.setattr("sys.argv", [
        "lm_eval", "--model", "lampe", "--model_args",
        f"pretrained={tmp_path / 'tiny'},method=lampe,local_window=8,initial_tokens=2,preset=llama3,dtype=float32",
        "--tasks", "lampe_fixture_mc", "--include_path", str(FIXTURES), "--limit", "2",
        "--batch_size", "2", "--device", "cpu",
    ])
    lm_eval_cli.main()
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("|lampe_fixture_mc"))
    value = float(row.split("|")[7])
    assert 0.0 <= value <= 1.0 and not math.isnan(value)
    assert "'method': 'lampe'" in table and "'local_window': 8" in table


@pytest.mark.slow
def test_command_line_on_the_embedded_model():
    """The documented command, verbatim, on SmolLM2 with LaMPE (docs/lm_eval.md)."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "evals.run.lm_eval_cli", "--model", "lampe", "--model_args",
         "pretrained=smollm2,method=lampe,preset=llama3", "--tasks", "lampe_fixture", "--include_path",
         "tests/fixtures/lm_eval_tasks", "--limit", "4"],
        capture_output=True, text=True, check=True, timeout=600, cwd=FIXTURES.parents[2],
    ).stdout
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("|lampe_fixture")}
    assert set(rows) == {"lampe_fixture_mc", "lampe_fixture_gen"}
    assert "'method': 'lampe', 'preset': 'llama3'" in out
