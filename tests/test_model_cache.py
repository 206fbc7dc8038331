"""The embedded model's cache is built aside and renamed into place under a lock: two processes on
an empty cache both succeed and convert once, a partial folder is rebuilt, a killed build leaves
no folder, and every load reads the cache (the same tokenizer whoever built it).

The fast tests stub the GGUF conversion; the slow ones convert SmolLM2 for real."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lampe import models

REPO = Path(__file__).resolve().parent.parent

# A stand-in converter around the real `cached_folder` (loaded by file, so the child starts in a
# blink without torch): writes config.json, waits (the window in which the old cache looked
# finished to every other process), then the weights.
CONVERTER = textwrap.dedent("""
    import importlib.util, os, sys, time
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("model_cache", sys.argv[4])
    model_cache = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model_cache)
    cache, log, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    def convert(folder):
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\\n")
        (folder / "config.json").write_text("{}")
        if mode == "die":
            os._exit(9)  # killed half-way through the build
        time.sleep(1.0)
        (folder / "model.safetensors").write_text("weights")

    def complete(folder):
        return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()

    folder = model_cache.cached_folder(cache / "smollm2" / "model", convert, complete)
    print("ok" if complete(folder) else "incomplete", folder, flush=True)
""")


def start(cache: Path, log: Path, mode: str = "build") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CONVERTER, str(cache), str(log), mode,
                             str(REPO / "lampe" / "model_cache.py")], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_on_an_empty_cache_both_succeed_and_convert_once(tmp_path):
    cache, log = tmp_path / "cache", tmp_path / "conversions.log"
    procs = [start(cache, log), start(cache, log)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    assert all(out.startswith("ok ") for out, _ in outs), outs
    assert len(log.read_text().splitlines()) == 1  # the second waited for the first's folder
    assert sorted(p.name for p in (cache / "smollm2").iterdir() if not p.name.startswith(".")) == ["model"]


def test_a_killed_build_leaves_no_folder_and_the_next_one_succeeds(tmp_path):
    cache, log = tmp_path / "cache", tmp_path / "conversions.log"
    dead = start(cache, log, "die")
    dead.communicate(timeout=120)
    assert dead.returncode == 9 and not (cache / "smollm2" / "model").exists()
    out, err = start(cache, log).communicate(timeout=120)
    assert out.startswith("ok "), err
    assert not [p for p in (cache / "smollm2").iterdir() if ".building-" in p.name]  # the dead build cleared


def test_a_partial_cache_is_rebuilt(tmp_path, monkeypatch):
    """What a kill during the old `save_pretrained` left: config.json and no weights (or torn ones)."""
    monkeypatch.setattr(models, "CACHE_DIR", tmp_path)
    folder = tmp_path / "smollm2" / "model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    built = []

    def convert(name, target):
        import torch
        from safetensors.torch import save_file

        built.append(target)
        (target / "config.json").write_text(json.dumps({"model_type": "llama"}))
        save_file({"weight": torch.zeros(8)}, str(target / "model.safetensors"))

    monkeypatch.setitem(models.CACHE_PARTS, "model", (convert, models._model_complete))
    assert models.embedded_cache("smollm2", "model") == folder and len(built) == 1
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8])  # a torn weights file: shorter than its header says
    assert not models.safetensors_complete(weights)
    assert models.embedded_cache("smollm2", "model") == folder and len(built) == 2
    assert models.safetensors_complete(weights)


def test_a_read_only_cache_builds_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setattr(models, "CACHE_DIR", blocker / "cache")  # cannot be created
    assert models.embedded_cache("smollm2", "tokenizer") is None


def test_every_tokenizer_load_reads_the_cache(tmp_path, monkeypatch, tokenizer):
    """The first load used to come from the GGUF and later ones from the cache: two names, two
    sample lists built (the study test's flake on an empty cache)."""
    monkeypatch.setattr(models, "CACHE_DIR", tmp_path)
    monkeypatch.setitem(models.CACHE_PARTS, "tokenizer",
                        (lambda name, folder: tokenizer.save_pretrained(folder), models._tokenizer_complete))
    first, second = models.load_tokenizer("smollm2"), models.load_tokenizer("smollm2")
    assert first.name_or_path == second.name_or_path == str(tmp_path / "smollm2" / "tokenizer")


@pytest.mark.slow
def test_the_real_tokenizer_has_one_name_on_an_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "CACHE_DIR", tmp_path)
    first, second = models.load_tokenizer("smollm2"), models.load_tokenizer("smollm2")
    assert first.name_or_path == second.name_or_path


@pytest.mark.slow
def test_two_real_loads_on_an_empty_cache_both_succeed(tmp_path):
    code = "import lampe; m, t = lampe.load_model('smollm2'); print('loaded', m.config.num_hidden_layers)"
    env = {**os.environ, "PYTHONPATH": str(REPO), "LAMPE_CACHE": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert all("loaded 30" in out for out, _ in outs), [err[-2000:] for _, err in outs]


@pytest.mark.slow
def test_a_cache_killed_after_its_config_is_rebuilt_by_load_model(tmp_path, monkeypatch):
    """A kill during the first load, after config.json was written: every later load used to fail
    with 'no file named model.safetensors' until the folder was deleted by hand."""
    monkeypatch.setattr(models, "CACHE_DIR", tmp_path)
    folder = tmp_path / "smollm2" / "model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(models.embedded_config("smollm2")))
    model, _ = models.load_model("smollm2")
    assert model.config.num_hidden_layers == 30 and models.safetensors_complete(folder / "model.safetensors")
