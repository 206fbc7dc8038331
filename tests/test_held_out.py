"""A fitted preset never scores what it was fitted on: presets' provenance files, the runner's
refusal (naming preset and sample), fit_sigmoid's split check and provenance, and the audit."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from evals.benchmarks.registry import get_benchmark
from evals.run import held_out, runner
from evals.run.plan import make_plan
from lampe import PRESETS
from tests.helpers import make_cfg
from tests.test_fit_sigmoid import _fake_sweep_run, fit_sigmoid

REPO = Path(__file__).resolve().parent.parent


def test_every_preset_has_its_provenance():
    for name, values in PRESETS.items():
        provenance = held_out.load_provenance(name)
        assert provenance is not None and provenance["preset"] == name, name
        stored = [provenance["values"][k] for k in ("a", "b", "c")]
        assert np.allclose(stored, values, rtol=1e-6), name  # refit without updating one of the two: fails


def test_smollm2_was_fitted_on_the_old_studys_test_prompts():
    """results/study/sigmoid_passkey fitted it on passkey-12288-50-0 (key 22299) and passkey-16384-50-0
    (key 43418), prompts of the study's passkey piece; sigmoid_confirm, which chose it, scored them all."""
    provenance = held_out.load_provenance("smollm2")
    fit = {e["id"]: e for e in provenance["samples"] if e["role"] == "fit"}
    assert fit["passkey-12288-50-0"]["keys"] == ["passkey:22299"]
    assert fit["passkey-16384-50-0"]["keys"] == ["passkey:43418"]
    assert provenance["fitted_on"]["split"] == "unknown" and "sigmoid_passkey" in provenance["fitted_on"]["results"]
    assert len(provenance["fitted_on"]["runs"]) == 6 and provenance["commit"] and provenance["date"]
    selection = {e["id"] for e in provenance["samples"] if e["role"] == "selection"}
    assert {f"passkey-{n}-{d}-{i}" for n in (12288, 16384) for d in (10, 50, 90) for i in (0, 1)} == selection


def test_the_runner_refuses_a_test_sample_the_preset_was_fitted_on(fake_conf, tmp_path, loads, tokenizer):
    cfg = make_cfg(fake_conf, tmp_path, "method=lampe", "benchmark=passkey", "benchmark.lengths=[12288]",
                   "benchmark.depths=[50]")
    with pytest.raises(runner.ConfigError, match=r"preset 'smollm2' was fitted on test sample 'passkey-12288-50-0'"):
        runner.run_with_dir(cfg)
    assert loads == [] and not (tmp_path / "results").exists()  # refused before the model loads, no run folder
    # the dev split, and a method without the preset, may run
    for overrides in (["benchmark.split=dev"], ["method.mapping_length=4096"]):
        plan = make_plan(make_cfg(fake_conf, tmp_path, "method=lampe", "benchmark=passkey", "benchmark.lengths=[12288]",
                                  "benchmark.depths=[50]", *overrides))
        held_out.check_plan(plan.values, plan.benchmark, lambda plan=plan: plan.benchmark.sample_list(tokenizer))


def _provenance(folder: Path, preset: str, samples: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{preset}.yaml").write_text(yaml.safe_dump({"preset": preset, "samples": samples}))
    return folder


def test_a_shared_content_key_is_refused_and_a_dev_fit_is_not(tmp_path, tokenizer):
    bench = get_benchmark("passkey")(lengths=[512], depths=[50], num_samples=2)
    test = list(bench.samples(tokenizer))
    dev = list(get_benchmark("passkey")(lengths=[512], depths=[50], num_samples=2, split="dev").samples(tokenizer))
    folder = _provenance(tmp_path / "a", "mine", [{"id": s.id, "benchmark": "passkey", "keys": bench.content_keys(s),
                                                   "role": "fit", "run": "r"} for s in dev])
    held_out.check_samples(held_out.guard_for({"preset": "mine"}, folder), bench, test)  # fitted on dev: fine
    # another id, the same key: refused, naming the key, the sample and the preset
    folder = _provenance(tmp_path / "b", "mine", [{"id": "elsewhere-1", "benchmark": "passkey", "role": "fit",
                                                   "run": "r", "keys": bench.content_keys(test[1])}])
    with pytest.raises(held_out.HeldOutError, match=rf"preset 'mine' was fitted on test sample '{test[1].id}'.*"
                                                    rf"content passkey:{test[1].references[0]} of its sample 'elsewhere-1'"):
        held_out.check_samples(held_out.guard_for({"preset": "mine"}, folder), bench, test)
    assert held_out.guard_for({"preset": "no_file"}, folder) is None and held_out.guard_for({}, folder) is None


def test_fit_sigmoid_refuses_test_records_and_writes_provenance(tmp_path, monkeypatch):
    sweep = tmp_path / "sweep"
    for run_id, u in (("a", 1024), ("b", 2048), ("c", 4096)):
        _fake_sweep_run(sweep, run_id, u, {8192: 1.0, 16384: u / 4096, 24576: u / 8192, 32768: u / 8192})
    _fake_sweep_run(tmp_path / "test_sweep", "t", 1024, {8192: 1.0}, split="test")
    with pytest.raises(ValueError, match=r"1 record\(s\) of the test split .* --allow-test"):
        fit_sigmoid.main(["--results", str(tmp_path / "test_sweep")])
    confirm = tmp_path / "confirm"
    _fake_sweep_run(confirm, "k", 4096, {12288: 1.0})
    out = tmp_path / "presets" / "mine.yaml"
    result = fit_sigmoid.main(["--results", str(sweep), "--provenance", str(out), "--preset", "mine",
                               "--seen", str(confirm), "--note", "a test"])
    provenance = yaml.safe_load(out.read_text())
    assert provenance["values"] == {k: result[k] for k in ("a", "b", "c")} and provenance["preset"] == "mine"
    assert provenance["fitted_on"]["split"] == "dev" and len(provenance["fitted_on"]["runs"]) == 3
    assert {r["run_id"] for r in provenance["fitted_on"]["runs"]} == {"a", "b", "c"}
    fit = [e for e in provenance["samples"] if e["role"] == "fit"]
    assert sorted(e["id"] for e in fit) == ["16384", "24576", "32768", "8192"] and fit[0]["keys"] == ["passkey:8192"]
    assert fit[0]["runs"] == 3 and [e["id"] for e in provenance["samples"] if e["role"] == "selection"] == ["12288"]
    assert provenance["commit"] and provenance["date"] and provenance["note"] == "a test"


def test_audit_finds_content_shared_by_dev_and_test_records(tmp_path, capsys):
    def records(path: Path, rows: list[dict]) -> None:
        path.mkdir(parents=True)
        (path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    records(tmp_path / "m" / "x" / "passkey" / "1", [{"id": "a", "split": "test", "content_keys": ["passkey:1"]},
                                                    {"id": "b", "split": "test", "content_keys": ["passkey:2"]}])
    records(tmp_path / "m" / "x" / "passkey" / "2", [{"id": "c", "split": "dev", "content_keys": ["passkey:3"]},
                                                    {"id": "d", "task": "passkey", "references": ["9"]}])
    assert held_out.main([str(tmp_path)]) == 0
    records(tmp_path / "m" / "x" / "passkey" / "3", [{"id": "e", "split": "dev", "content_keys": ["passkey:2"]}])
    found = held_out.audit(tmp_path)
    assert list(found["shared"]) == ["passkey:2"] and found["unlabelled"] == 1
    assert found["records"] == {"dev": 2, "test": 2}
    assert held_out.main([str(tmp_path)]) == 1 and "shared passkey:2" in capsys.readouterr().out
