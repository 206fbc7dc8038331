"""The default run touches no network: a `make eval`-style multirun under a socket guard."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.helpers import CONF, REPO

GUARD = textwrap.dedent("""
    # sitecustomize: every network attempt is logged to $NET_LOG and fails; so is importing wandb.
    import atexit, os, socket, sys

    def _deny(what):
        with open(os.environ["NET_LOG"], "a") as log:
            log.write(what + "\\n")
        raise OSError(f"network blocked by the test: {what}")

    _connect = socket.socket.connect

    def connect(self, address):
        if self.family == getattr(socket, "AF_UNIX", None):
            return _connect(self, address)
        _deny(f"connect {address!r}")

    socket.socket.connect = connect
    socket.socket.connect_ex = lambda self, address: _deny(f"connect_ex {address!r}")
    socket.getaddrinfo = lambda host, *a, **k: _deny(f"getaddrinfo {host!r}")
    socket.create_connection = lambda address, *a, **k: _deny(f"create_connection {address!r}")
    atexit.register(lambda: "wandb" in sys.modules and _deny("import wandb"))
""")


def test_default_config_logs_nowhere():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(CONF, version_base="1.3"):
        assert compose("config").logger.name == "none"


def test_default_multirun_makes_no_network_call(fake_conf, tmp_path):
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "net.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "HF_HUB_OFFLINE"))}
    env.update(NET_LOG=str(log), PYTHONPATH=f"{guard_dir}{os.pathsep}{REPO}")
    # `make eval` minus its real benchmark: a multirun over methods with the default logger
    result = subprocess.run(
        [sys.executable, "-m", "evals", "--multirun", "method=original,ntk", f"hydra.searchpath=[file://{fake_conf}]",
         "benchmark=fake", "imports=[tests.fake_benchmark]", "threads=1", "progress=false",
         f"results_dir={tmp_path / 'results'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 runs of this sweep" in result.stdout
    assert not log.exists(), log.read_text()
    assert not (tmp_path / "results" / "wandb").exists()
