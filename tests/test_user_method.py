"""A method from outside the package: a distance cap (d = min(delta, w): ReRoPE's rule without its
log scale; the built-in `rerope` is the release) in a user's own file, registered through
`lampe.extension`, then used by `apply_method` and by the runner with the user's config."""
from __future__ import annotations

import textwrap

import pytest
import torch
from hydra import compose, initialize_config_dir

import lampe
from evals.run import runner, session
from lampe.methods.registry import METHODS
from tests.conftest import tiny_llama
from tests.helpers import CONF
from tests.test_region_models import reference_kernel

USER_FILE = textwrap.dedent('''
    """ReRoPE: keys closer than `window` keep their distance, farther ones all sit at `window`."""
    import torch

    from lampe.extension import DistanceRule, Param, RegionMethod, register_method


    class ReRopeRule(DistanceRule):
        num_regions = 2

        def __init__(self, window):
            self.window = window

        def region(self, i, j, ctx):
            return ((i - j) >= self.window).long()

        def query_position(self, r, i, ctx):
            return i if r == 0 else torch.full_like(i, self.window)

        def key_position(self, r, j, ctx):
            return j if r == 0 else torch.zeros_like(j)

        def distance(self, i, j, ctx):
            return (i - j).clamp(max=self.window)

        def bands(self, row):
            return [self.window]


    @register_method
    class MyReRope(RegionMethod):
        name = "my_rerope"
        params = (Param("window", int, 512, low=1, doc="exact distances below it; w beyond"),)
        description = "ReRoPE: distances capped at the window"

        def rule(self):
            return ReRopeRule(self.values["window"])
''')


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_rerope.py").write_text(USER_FILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_rerope"
    METHODS.pop("my_rerope", None)
    import sys

    sys.modules.pop("my_rerope", None)


def test_user_rule_matches_hand_computed_distances(user_module):
    module = __import__(user_module)
    rule = module.ReRopeRule(3)
    i, j = torch.arange(6)[:, None], torch.arange(6)[None, :]
    expected = torch.tensor([[min(a - b, 3) for b in range(6)] for a in range(6)])
    causal = j <= i
    assert torch.equal(rule.distance(i, j, None)[causal], expected[causal])
    for r in (0, 1):  # region by region, q_position - k_position is the same rule
        inside = causal & (rule.region(i, j, None) == r)
        positions = rule.query_position(r, i.expand(6, 6), None) - rule.key_position(r, j.expand(6, 6), None)
        assert torch.equal(positions[inside], expected[inside])


def test_apply_method_runs_a_user_method_like_a_built_in(user_module, monkeypatch):
    __import__(user_module)
    assert "my_rerope" in lampe.available_methods() and lampe.registered_methods()[-1] == "my_rerope"  # tables list it last
    ids = torch.randint(1, 128, (1, 40), generator=torch.Generator().manual_seed(0))
    model = tiny_llama()
    with torch.no_grad():
        stock = model(ids).logits
        lampe.apply_method(model, "my_rerope", window=64)  # window past the input: plain RoPE
        assert torch.allclose(model(ids).logits, stock, atol=1e-5)
        lampe.apply_method(model, "my_rerope", window=8)
        engine_logits = model(ids).logits
        monkeypatch.setattr("lampe.attention.hook.region_attention", reference_kernel())
        reference = model(ids).logits
    assert model.lampe_method == {"name": "my_rerope", "window": 8}
    assert not torch.allclose(engine_logits, stock, atol=1e-3)  # the cap changed something
    assert torch.allclose(engine_logits, reference, atol=1e-4)
    with pytest.raises(ValueError, match="my_rerope.window"):
        lampe.apply_method(model, "my_rerope", window=0)


def test_the_runner_runs_a_user_method_from_the_users_config(user_module, tmp_path, tokenizer, monkeypatch):
    conf = tmp_path / "user_conf"
    (conf / "method").mkdir(parents=True)
    (conf / "method" / "my_rerope.yaml").write_text("name: my_rerope\nwindow: 16\n")
    (conf / "benchmark").mkdir()
    (conf / "benchmark" / "fake.yaml").write_text("name: fake_runner\nmax_length: null\nsize: 2\ntasks: null\n")
    import tests.fake_benchmark  # noqa: F401  registers fake_runner

    model = tiny_llama(vocab_size=len(tokenizer), max_position_embeddings=512)
    monkeypatch.setattr(session, "load_model", lambda name, **kw: (model, tokenizer))
    with initialize_config_dir(CONF, version_base="1.3"):
        cfg = compose("config", overrides=[f"hydra.searchpath=[file://{conf}]", "method=my_rerope", "benchmark=fake",
                                           f"imports=[{user_module}]", "logger=none", "progress=false",
                                           f"results_dir={tmp_path / 'results'}"])
    run_dir, metrics = runner.run_with_dir(cfg)
    assert metrics["num_samples"] == 2 and run_dir.parts[-3] == "my_rerope"
    assert model.lampe_method == {"name": "my_rerope", "window": 16}
