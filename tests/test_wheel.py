"""A wheel install works outside the checkout: configs ship with the package, results land in the
current folder, and data paths without a checkout fail with the option to set.

The venv sees this machine's packages (--system-site-packages) so no dependency is downloaded;
the wheel itself goes in with --no-deps, and Python's path finder takes the venv's copy of
`lampe`/`evals` before an editable install's finder could (editable finders come last).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def run(cmd, cwd, **kwargs):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900, **kwargs)


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # setuptools builds in the source tree (build/, *.egg-info): not in the checkout
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "results", "*.egg-info", "__pycache__", ".pytest_cache"))
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"),
                 str(source)], cwd=root)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (root / "dist").glob("lampe_rope-*.whl")
    venv.create(root / "venv", system_site_packages=True, with_pip=True)
    bin_dir = root / "venv" / "bin"
    installed = run([str(bin_dir / "python"), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], cwd=root)
    assert installed.returncode == 0, installed.stderr[-2000:]
    empty = root / "empty"
    empty.mkdir()
    return bin_dir, empty


def test_wheel_ships_configs_and_writes_results_here(wheel_env):
    bin_dir, empty = wheel_env
    where = run([str(bin_dir / "python"), "-c", "import lampe, evals; print(lampe.__file__); print(evals.__file__)"],
                cwd=empty)
    assert where.returncode == 0 and str(REPO) not in where.stdout, where.stdout + where.stderr
    env = {**os.environ, "PYTHONPATH": ""}
    result = run([str(bin_dir / "lampe-eval"), "model=smollm2", "method=lampe", "benchmark=passkey",
                  "benchmark.lengths=[1024]", "benchmark.depths=[50]", "logger=none", "threads=1",
                  "progress=false"], cwd=empty, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    (metrics,) = (empty / "results" / "smollm2" / "lampe" / "passkey").glob("*/metrics.json")
    assert json.loads(metrics.read_text())["num_samples"] == 1
    assert not list((bin_dir.parent).rglob("results/smollm2"))  # nothing inside the venv


def test_wheel_names_the_data_option_outside_a_checkout(wheel_env):
    bin_dir, empty = wheel_env
    result = run([str(bin_dir / "lampe-eval"), "benchmark=leval", "logger=none", "results_dir=elsewhere"], cwd=empty,
                 env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode != 0
    assert "benchmark.data_dir" in result.stderr, result.stderr[-2000:]
    assert not (empty / "elsewhere").exists() or not list((empty / "elsewhere").rglob("metrics.json"))
