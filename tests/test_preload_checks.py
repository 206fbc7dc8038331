"""Every option is checked before the model loads; each error names the option and leaves no folder."""
from __future__ import annotations

import json

import pytest

from evals.run import runner
from tests.helpers import make_cfg, refused


@pytest.mark.parametrize("overrides, message", [
    (["rerun=no"], r"Invalid rerun='no': expected a boolean \(true or false\)"),
    (["rerun=1"], r"Invalid rerun=1: expected a boolean"),
    (["progress=yes"], r"Invalid progress='yes'"),
    (["model.trust_remote_code=maybe"], r"Invalid model.trust_remote_code='maybe'"),
    (["threads=abc"], r"Invalid threads='abc': expected an integer >= 1 or null"),
    (["limit=abc"], r"Invalid limit='abc': expected an integer >= 1 or null"),
    (["limit=-1"], r"Invalid limit=-1"),
    (["limit=0"], r"Invalid limit=0"),
    (["shard.count=abc"], r"Invalid shard.count='abc'"),
])
def test_runner_options_name_the_option(tmp_path, loads, overrides, message):
    refused(tmp_path, loads, ["benchmark=passkey", *overrides], message)


@pytest.mark.parametrize("name", ["../../../../x", "a/b", "..", ".hidden"])
def test_names_used_in_paths_stay_inside_results_dir(tmp_path, loads, name):
    refused(tmp_path, loads, ["benchmark=passkey", f"model.name='{name}'"], r"Invalid model.name=")
    assert not (tmp_path.parent / "x").exists()


@pytest.mark.parametrize("overrides, message", [
    (["benchmark.depths=[abc]"], r"Invalid benchmark.depths=\['abc'\]: expected a list of numbers"),
    (["benchmark.passkey_range=[1,abc]"], r"Invalid benchmark.passkey_range=\[1, 'abc'\]"),
    (["benchmark.num_samples=abc"], r"Invalid benchmark.num_samples='abc': expected an integer >= 1"),
    (["benchmark.num_samples=0"], r"Invalid benchmark.num_samples=0: expected an integer >= 1"),
    (["benchmark.max_new_tokens=-3"], r"Invalid benchmark.max_new_tokens=-3"),
    (["benchmark.prompt_format=llama2"], r"Invalid benchmark.prompt_format='llama2'. Valid choices: official, chat, raw"),
    (["benchmark.lengths=[50]"], r"benchmark=passkey: Invalid benchmark.lengths: passkey length 50 is too short"),
])
def test_passkey_options_fail_before_loading(tmp_path, loads, overrides, message):
    refused(tmp_path, loads, ["benchmark=passkey", "benchmark.depths=[50]", *overrides], message)


def test_perplexity_of_nothing_and_missing_files(tmp_path, loads):
    refused(tmp_path, loads, ["benchmark=perplexity", "benchmark.lengths=[1]"],
            r"Invalid benchmark.lengths=\[1\]: expected a list of integers >= 2")
    refused(tmp_path, loads, ["benchmark=perplexity", f"benchmark.files={tmp_path / 'nowhere'}"],
            r"benchmark=perplexity: .*benchmark.files=")


def _leval_dir(tmp_path, line):
    folder = tmp_path / "leval" / "Closed-ended-tasks"
    folder.mkdir(parents=True)
    (folder / "quality.jsonl").write_text(line)
    return folder.parent


@pytest.mark.parametrize("line, message", [
    ("{not json\n", r"quality.jsonl:1: malformed JSON line"),
    ("", r"quality.jsonl holds no documents"),
    (json.dumps({"input": "x", "instructions": ["q"]}) + "\n", r"lacks field\(s\) outputs, evaluation"),
])
def test_leval_data_is_read_before_loading(tmp_path, loads, line, message):
    data = _leval_dir(tmp_path, line)
    refused(tmp_path, loads, ["benchmark=leval", f"benchmark.data_dir={data}", "benchmark.tasks=[quality]"],
            rf"benchmark=leval: .*{message}.*benchmark.data_dir=")


def test_leval_samples_per_task_names_the_option(tmp_path, loads):
    refused(tmp_path, loads, ["benchmark=leval", "benchmark.samples_per_task=abc"],
            r"Invalid benchmark.samples_per_task='abc'")


def test_a_benchmark_with_no_samples_is_refused(fake_conf, tmp_path, loads):
    with pytest.raises(runner.ConfigError, match="yields no samples"):
        runner.run(make_cfg(fake_conf, tmp_path, "method=original", "benchmark.size=0"))
    assert loads == [] and not (tmp_path / "results").exists()


def test_validate_hook_runs_before_the_model_loads(fake_conf, tmp_path, loads, monkeypatch):
    from tests.fake_benchmark import FakeBenchmark

    def validate(self):
        raise FileNotFoundError("benchmark.data_dir=null: no local data and HF_HUB_OFFLINE is set")

    monkeypatch.setattr(FakeBenchmark, "validate", validate, raising=False)
    with pytest.raises(runner.ConfigError, match="HF_HUB_OFFLINE"):
        runner.run(make_cfg(fake_conf, tmp_path, "method=original"))
    assert loads == []


@pytest.mark.parametrize("files, message", [
    ({}, r"LongBench data_dir '.*nowhere' .* is not a directory"),
    ({"trec.jsonl": "{bad\n"}, r"trec.jsonl:1: malformed JSON line"),
    ({"trec.jsonl": json.dumps({"input": "x"}) + "\n"}, r"lacks field\(s\) context"),
])
def test_longbench_data_is_read_before_loading(tmp_path, loads, files, message):
    data = tmp_path / ("nowhere" if not files else "lb")
    for name, text in files.items():
        data.mkdir(exist_ok=True)
        (data / name).write_text(text)
    refused(tmp_path, loads, ["benchmark=longbench", f"benchmark.data_dir={data}", "benchmark.tasks=[trec]"],
            rf"benchmark=longbench: .*{message}")


def test_longbench_offline_without_data_fails_at_once(tmp_path, loads, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    refused(tmp_path, loads, ["benchmark=longbench", "benchmark.tasks=[gov_report]"], r"offline mode is set")




# ---- model options (issue 27, item 11): named before the tokenizer or the weights load ----------

@pytest.mark.parametrize("overrides, message", [
    (["model.dtype=float8"], r"Invalid model.dtype='float8'. Valid choices: auto, float32, float16, bfloat16"),
    (["model.attn_implementation=bogus"], r"Invalid model.attn_implementation='bogus'. Valid choices: eager, .*sdpa"),
    (["model.device=tpu"], r"Invalid model.device='tpu'. Valid choices: cpu, cuda, mps, xpu"),
    (["model.pretraining_length=0"], r"Invalid model.pretraining_length=0: expected an integer in \[1, "),
    (["model.pretraining_length=abc"], r"Invalid model.pretraining_length='abc'"),
    (["method=ntk", "method.factor=auto", "model.pretraining_length=0"], r"Invalid model.pretraining_length=0"),
    (["method=ntk", "method.factor=auto", "model.pretraining_length=null"],
     r"method.factor=auto .* set model.pretraining_length"),
    (["imports=[no_such_module]"], r"Invalid imports: no module named 'no_such_module'"),
])
def test_model_options_name_the_option(tmp_path, loads, overrides, message):
    refused(tmp_path, loads, ["benchmark=passkey", *overrides], message)


def test_a_device_this_machine_lacks_is_refused_before_loading(tmp_path, loads):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    refused(tmp_path, loads, ["benchmark=passkey", "model.device=cuda"],
            r"Invalid model.device='cuda': this machine has no CUDA device")


def test_a_failing_import_is_named(tmp_path, loads, monkeypatch):
    (tmp_path / "broken_user_module.py").write_text("raise RuntimeError('half written')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    refused(tmp_path, loads, ["benchmark=passkey", "imports=[broken_user_module]"],
            r"Invalid imports: importing 'broken_user_module' failed: RuntimeError: half written")


def test_a_model_folder_without_a_config_is_named(tmp_path, loads):
    folder = tmp_path / "my_model"
    folder.mkdir()
    (folder / "tokenizer.json").write_text("{}")
    refused(tmp_path, loads, ["benchmark=passkey", f"model.name_or_path={folder}"],
            r"Invalid model.name_or_path='.*my_model': the folder has no config.json")


def test_a_hub_id_offline_and_not_cached_names_the_option(tmp_path, loads, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_hf_home"))  # nothing cached
    import huggingface_hub.constants as hub

    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "empty_hf_home" / "hub"))
    refused(tmp_path, loads, ["benchmark=passkey", "model.name_or_path=someone/no-such-model"],
            r"Invalid model.name_or_path='someone/no-such-model': not a local folder and not in the hub cache, "
            r"and HF_HUB_OFFLINE=1")


# ---- lengths (issue 27, item 3): refused from the config, before samples or weights -------------

def test_a_huge_length_ends_in_seconds_naming_the_option(tmp_path, loads):
    import time

    start = time.monotonic()
    refused(tmp_path, loads, ["benchmark=passkey", "method=lampe", "benchmark.lengths=[2000000000]"],
            r"a 2000000000-token forward holds at least .* lower benchmark.lengths .*force=true")
    refused(tmp_path, loads, ["benchmark=passkey", "benchmark.lengths=[2000000000]"],  # the stock model
            r"Invalid benchmark.lengths: 2000000000 tokens exceed 16777216 .*force=true")
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("length, message", [
    (99999999999, r"Invalid benchmark.lengths: 99999999999 tokens exceed 2147483647 .*force=true cannot start it"),
    (262144, r"a 262144-token forward holds at least .*force=true"),
    (10000000, r"a 10000000-token forward .*force=true"),
])
def test_lengths_beyond_the_machine_are_refused_before_anything_is_built(tmp_path, loads, length, message,
                                                                       monkeypatch):
    from evals.run import length_guard

    monkeypatch.setattr(length_guard, "free_memory", lambda model_cfg: (16 * 2**30, "RAM"))  # this 2-core CPU's
    refused(tmp_path, loads, ["benchmark=passkey", "method=lampe", f"benchmark.lengths=[{length}]"], message)


def test_frequency_methods_stop_where_float32_positions_do(tmp_path, loads, monkeypatch):
    from evals.run import length_guard

    monkeypatch.setattr(length_guard, "free_memory", lambda model_cfg: (2**60, "RAM"))  # a huge machine
    monkeypatch.setattr(length_guard, "_rate", lambda *args: 1e30)  # and a fast one
    refused(tmp_path, loads, ["benchmark=passkey", "method=ntk", "benchmark.lengths=[20000000]"],
            r"20000000 tokens exceed 16777216 \(2\^24\), the last position whose rotary angle method 'ntk'")
    # a region method maps distances into the window: no float32 position limit
    assert length_guard.check_lengths({"name_or_path": "smollm2"}, "lampe", {"lengths": [20000000]}, None,
                                      False) is None
