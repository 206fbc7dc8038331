"""Tables anyone can regenerate: two renders are byte-identical whatever the files' times, `make
table` on a fresh clone (no runs under results/, the study's under results/study/) renders the
study, and a run id hashes what a preset stands for, not its name."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evals.report import tables
from evals.run import identity
from tests.test_intervals import passkey_metrics, write_records
from tests.test_summary_table import perplexity_run
from tests.test_tables import fake_run

REPO = Path(__file__).resolve().parent.parent


def study(root: Path) -> None:
    """Three methods on passkey (records) and perplexity (documents), written in an order unlike the registry's."""
    for run_id, method, values in (("c", "lampe", [1] * 9 + [0]), ("a", "original", [0] * 8 + [1] * 2),
                                   ("b", "ntk", [1] * 6 + [0] * 4)):
        write_records(fake_run(root, "smollm2", method, "passkey", run_id, passkey_metrics(values)), values)
    for run_id, method, shift in (("p3", "lampe", 0.0), ("p1", "original", 0.4), ("p2", "ntk", 0.05)):
        perplexity_run(root, method, {4096: [1.0 + shift, 1.2 + shift, 0.9 + shift, 1.1 + shift]}, run_id)


def render(root: Path, out: Path) -> dict[str, bytes]:
    tables.write_tables(root, out)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def set_times(root: Path, newest_first: bool) -> None:
    """Give every run folder's files a time in (or against) path order."""
    runs = sorted(root.glob("*/*/*/*"), reverse=newest_first)
    for i, run in enumerate(runs):
        for path in run.iterdir():
            os.utime(path, (1_000_000 + i, 1_000_000 + i))


def test_two_renders_are_byte_identical_whatever_the_file_times(tmp_path):
    root = tmp_path / "results"
    study(root)
    set_times(root, newest_first=False)
    first = render(root, tmp_path / "one")
    set_times(root, newest_first=True)  # a clone or a copy may give the files any times
    second = render(root, tmp_path / "two")
    assert {n.rsplit(".", 1)[-1] for n in first} >= {"md", "tex", "csv", "png"}
    assert first.keys() == second.keys()
    assert [n for n in first if first[n] != second[n]] == []
    header = [line for line in first["passkey.md"].decode().splitlines() if line.startswith("| smollm2")]
    assert [line.split("|")[2].strip() for line in header] == ["original", "ntk", "lampe"]  # registry order


def test_make_table_on_a_fresh_clone_renders_the_study(tmp_path, monkeypatch, capsys):
    """A clone has results/tables but no runs under results/ (git ignores them) and the committed
    study under results/study/: the first must be skipped, not end `make table` before the second."""
    sys.path.insert(0, str(REPO / "scripts"))
    import make_table

    (tmp_path / "results" / "tables").mkdir(parents=True)
    study(tmp_path / "results" / "study")
    monkeypatch.chdir(tmp_path)
    assert make_table.main(["--quiet"]) == 0
    assert "No finished runs under results/: skipped." in capsys.readouterr().out
    assert (tmp_path / "results" / "study" / "tables" / "passkey_paired.md").exists()
    assert make_table.main(["--results", "empty"]) == 1
    assert "No finished runs under empty/" in capsys.readouterr().out


def test_the_run_id_hashes_what_a_preset_stands_for(monkeypatch):
    from lampe import PRESETS

    model, bench = {"name": "smollm2", "name_or_path": "smollm2"}, {"name": "passkey"}
    lampe = {"name": "lampe", "preset": "smollm2", "local_window": 1024, "a": None, "b": None, "c": None}
    rid = identity.run_id(identity.run_key(model, lampe, bench))
    assert identity.run_key(model, lampe, bench)["method"]["c"] == PRESETS["smollm2"][2]  # the values, hashed
    a, b, c = PRESETS["smollm2"]
    monkeypatch.setitem(PRESETS, "smollm2", (a, b, c - 1024.0))  # the preset redefined under the same name
    assert identity.run_id(identity.run_key(model, lampe, bench)) != rid
    monkeypatch.setitem(PRESETS, "smollm2", (a, b, c))
    assert identity.run_id(identity.run_key(model, lampe, bench)) == rid
    ntk = {"name": "ntk", "factor": 2.0}
    assert identity.run_key(model, ntk, bench)["method"] == ntk  # other methods hash as before


@pytest.mark.slow
def test_the_committed_study_tables_regenerate_byte_for_byte(tmp_path):
    committed = REPO / "results" / "study" / "tables"
    if not committed.is_dir():
        pytest.skip("no committed study tables")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "make_table.py"), "--quiet", "--results",
                           str(REPO / "results" / "study"), "--out", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rendered = {p.name for p in tmp_path.iterdir()}
    differ = [p.name for p in sorted(committed.iterdir())
              if p.name in rendered and p.read_bytes() != (tmp_path / p.name).read_bytes()]
    assert differ == [] and rendered <= {p.name for p in committed.iterdir()}
