"""Network speed, memory and precision benchmark (``python tools/benchmark.py model``).

For each variant (body, hand) and configuration it measures, each configuration in its own process (so that peak
memories do not mix):

* ``lixel_train_s`` / ``param_train_s``: median seconds of one training step (forward, backward, Adam step) of each
  stage on a seeded random batch (:func:`random_batch`);
* ``test_forward_s`` (param stage, the full model) and ``lixel_test_forward_s``: median seconds of one test forward;
* ``peak_rss_gib``: the process's peak resident memory after the lixel training steps (on CUDA also
  ``peak_cuda_gib``);
* the change of the test outputs against ``plain_fp32`` on the same weights and inputs (max |diff|; lixel
  coordinates in hm units, ``mesh_coord_cam`` in mm).

Configurations: ``plain_fp32`` is the original's computation (:class:`main.reference.ReferenceI2LMeshNet`,
``torch.no_grad`` testing, the reference Adam); ``fast_fp32`` / ``fast_bf16`` / ``fast_fp16`` are the default path the
drivers use (:class:`main.model.I2LMeshNet`, ``torch.inference_mode`` testing on
:func:`common.nets.inference.prepare_inference`'d weights, :func:`common.optim.make_optimizer`) under the given
autocast; a ``_recompute`` suffix builds the network with ``recompute=True`` (activation recomputation, less memory),
a ``_compile`` suffix adds ``torch.compile``.  The fast
configurations run with transparent huge pages for large tensors as the drivers do (:mod:`common.allocator`),
``plain_fp32`` without, as the original runs (``--huge_pages all`` / ``none`` to change that).  The weights are
seeded stand-ins for trained ones (:func:`tools.stand_in_weights.conditioned_init`).
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from common.allocator import enable_huge_pages

    enable_huge_pages()  # as the drivers do; the parent sets THP_MEM_ALLOC_ENABLE per configuration

import torch  # noqa: E402

from tools.stand_in_weights import conditioned_init, random_batch  # noqa: E402

CONFIGS = ("plain_fp32", "fast_fp32", "fast_bf16", "fast_fp16", "fast_fp32_recompute", "fast_bf16_recompute",
           "fast_fp16_recompute")
TIMINGS = ("test_forward_s", "lixel_test_forward_s", "lixel_train_s", "param_train_s")
PROFILED_MODULES = ("pose_backbone", "pose_net", "pose2feat", "mesh_backbone", "mesh_net", "param_regressor",
                    "human_model_layer")


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # KiB on Linux


def _build(spec: dict):
    from common.utils.human_models import build_human_model
    from main.networks import build_model

    human_model = build_human_model(spec["variant"] == "hand", spec["model_dir"])
    torch.manual_seed(0)
    config = spec["config"]
    net = build_model(human_model, "lixel", recompute="_recompute" in config, exact=config == "plain_fp32")
    net.load_state_dict(torch.load(spec["weights"], weights_only=True))
    return human_model, net


def run_config(spec: dict) -> dict:
    """Measure one (variant, configuration) in this process; ``spec`` as written by :func:`run_model_benchmark`."""
    from common.nets.inference import prepare_inference
    from common.nets.precision import autocast_context, make_grad_scaler
    from common.optim import make_optimizer

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    config, device, batch = spec["config"], torch.device(spec["device"]), spec["batch_size"]
    fast = config != "plain_fp32"
    amp = config.split("_")[1]
    compiled = config.endswith("_compile")
    human_model, net = _build(spec)
    net.to(device)
    inputs, targets, meta = random_batch(human_model, batch, device=device)
    runner = torch.compile(net) if compiled else net

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def make_train(stage: str):
        net.stage = stage
        params = net.trainable_parameters()
        optimizer = make_optimizer(params, lr=1e-4) if fast else torch.optim.Adam(params, lr=1e-4)
        scaler = make_grad_scaler(device, amp)

        def train() -> None:
            if net.stage != stage:
                net.stage = stage
            net.train()
            optimizer.zero_grad(set_to_none=True)
            with autocast_context(device, amp):
                loss = runner(inputs, targets, meta, "train")
            total = sum(v.mean() for v in loss.values())
            scaler.scale(total).backward()
            scaler.step(optimizer)
            scaler.update()
        return train

    def make_test(stage: str):
        def test() -> dict:
            net.stage = stage
            net.eval()
            with (torch.inference_mode() if fast else torch.no_grad()), autocast_context(device, amp):
                return runner(inputs, {}, meta, "test")
        return test

    def timed(fn, name: str) -> None:
        """Median wall and process-CPU seconds of ``steps`` calls after ``warmup`` ones -> result[name + '_s']."""
        wall, cpu = [], []
        for i in range(spec["warmup"] + spec["steps"]):
            sync()
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            sync()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            if i == 0 and compiled:
                result["first_call_s"][name] = wall[0]
        result[f"{name}_s"] = statistics.median(wall[spec["warmup"]:])
        result[f"{name}_cpu_s"] = statistics.median(cpu[spec["warmup"]:])

    from common.allocator import huge_pages_requested

    result: dict = {"batch_size": batch, "device": str(device), "threads": torch.get_num_threads(),
                    "huge_pages": huge_pages_requested(),
                    "first_call_s": {}}
    if spec.get("profile"):
        profile_config(spec, net, runner, make_train, make_test, amp)
        return result
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    timed(make_train("lixel"), "lixel_train")
    result["peak_rss_gib"] = _peak_rss_gib()
    if device.type == "cuda":
        result["peak_cuda_gib"] = torch.cuda.max_memory_allocated(device) / 2 ** 30
    timed(make_train("param"), "param_train")
    # testing: the initial weights again (for the precision comparison), made test-only on the fast path
    net.load_state_dict(torch.load(spec["weights"], weights_only=True))
    if fast:
        prepare_inference(net, amp)
    outputs = make_test("param")()
    torch.save({k: v.float().cpu() for k, v in outputs.items()}, spec["outputs"])
    timed(make_test("param"), "test_forward")
    timed(make_test("lixel"), "lixel_test_forward")
    if compiled:
        result["compile_s"] = sum(max(0.0, t - result[f"{k}_s"]) for k, t in result["first_call_s"].items())
    return result


def profile_config(spec: dict, net, runner, make_train, make_test, amp: str) -> None:
    """Print the top operators and modules by time for one train step and one test forward per stage."""
    from torch.profiler import ProfilerActivity, profile, record_function

    from common.nets.inference import prepare_inference

    def enter(module, args, name):
        module._bench_profile_range = record_function(f"module::{name}")
        module._bench_profile_range.__enter__()

    def leave(module, args, output):
        module._bench_profile_range.__exit__(None, None, None)

    for name in PROFILED_MODULES:
        getattr(net, name).register_forward_pre_hook(lambda m, a, name=name: enter(m, a, name))
        getattr(net, name).register_forward_hook(leave)
    cuda = spec["device"].startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    sort = "self_device_time_total" if cuda else "self_cpu_time_total"
    runs = [(stage, "train step", make_train(stage)) for stage in ("lixel", "param")]
    runs += [(stage, "test forward", make_test(stage)) for stage in ("lixel", "param")]
    for i, (stage, what, fn) in enumerate(runs):
        if i == 2 and spec["config"] != "plain_fp32":
            prepare_inference(net, amp)
        fn()  # warm-up (and compilation)
        start = time.perf_counter()
        with profile(activities=activities) as prof:
            fn()
        seconds = time.perf_counter() - start
        rows = prof.key_averages()
        ops = [e for e in rows if not e.key.startswith("module::")]
        mods = [e for e in rows if e.key.startswith("module::")]
        total = sum(getattr(e, sort) for e in ops) or 1.0
        print(f"\n== {spec['variant']} {stage} {what}, {spec['config']}, batch {spec['batch_size']}: {seconds:.2f} s "
              f"under the profiler\n   top operators by self {'device' if cuda else 'CPU'} time:")
        for e in sorted(ops, key=lambda e: -getattr(e, sort))[:spec.get("profile_rows", 12)]:
            t = getattr(e, sort)
            print(f"   {e.key[:48]:48s} {t / 1e6:8.3f} s {100 * t / total:5.1f} %  {e.count:5d} calls")
        print("   modules (forward, inclusive CPU time):")
        for e in sorted(mods, key=lambda e: -e.cpu_time_total):
            print(f"   {e.key[8:]:48s} {e.cpu_time_total / 1e6:8.3f} s")
        sys.stdout.flush()


def _compare(reference: dict, outputs: dict, hand: bool) -> dict:
    """Max |difference| of the test outputs; mesh_coord_cam converted to mm (SMPL is in metres)."""
    scale = {"mesh_coord_cam": 1.0 if hand else 1000.0}
    return {f"max_abs_diff_{k}": float((outputs[k] - v).abs().max()) * scale.get(k, 1.0)
            for k, v in reference.items()}


def run_model_benchmark(model_dir: Path, variants: list[str], configs: list[str], batch: int, device: str,
                        steps: int, warmup: int, profile: bool = False, json_path: Path | None = None,
                        threads: int | None = None, huge_pages: str = "fast") -> dict:
    """Run every (variant, configuration) in a subprocess, print the figures and ratios; return the results.

    ``huge_pages``: which processes get transparent huge pages for large CPU tensors (:mod:`common.allocator`):
    ``'fast'`` (the fast configurations, as the drivers run; plain_fp32 as the original runs), ``'all'``, ``'none'``.
    """
    from common.allocator import THP_ENV
    from common.utils.human_models import build_human_model
    from main.reference import ReferenceI2LMeshNet

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="i2l_model_bench_") as tmp:
        for variant in variants:
            human_model = build_human_model(variant == "hand", model_dir)
            torch.manual_seed(0)
            net = ReferenceI2LMeshNet(human_model)
            conditioned_init(net)
            weights = Path(tmp) / f"{variant}_weights.pt"
            torch.save(net.state_dict(), weights)
            del net
            results[variant] = {}
            for config in configs:
                spec = {"variant": variant, "config": config, "model_dir": str(model_dir), "weights": str(weights),
                        "batch_size": batch, "device": device, "steps": steps, "warmup": warmup,
                        "profile": profile, "threads": threads, "outputs": str(Path(tmp) / f"{variant}_{config}_outputs.pt")}
                spec_file, out_file = Path(tmp) / "spec.json", Path(tmp) / "result.json"
                spec_file.write_text(json.dumps(spec))
                print(f"-- {variant} {config} (batch {batch}, {device}) ...", flush=True)
                thp = huge_pages == "all" or (huge_pages == "fast" and config != "plain_fp32")
                env = {**os.environ, THP_ENV: "1" if thp else "0"}
                subprocess.run([sys.executable, str(Path(__file__).resolve()), str(spec_file), str(out_file)],
                               check=True, env=env)
                entry = json.loads(out_file.read_text())
                if not profile:
                    reference = torch.load(Path(tmp) / f"{variant}_{configs[0]}_outputs.pt", weights_only=True)
                    entry.update(_compare(reference, torch.load(spec["outputs"], weights_only=True),
                                          variant == "hand"))
                    _print_entry(variant, config, entry, results[variant].get(configs[0]))
                results[variant][config] = entry
    if json_path is not None and not profile:
        json_path.write_text(json.dumps(results, indent=2))
    return results


def _print_entry(variant: str, config: str, entry: dict, reference: dict | None) -> None:
    """One line of timings (wall seconds, and the speed-up over plain_fp32 in wall and CPU time), one of diffs."""
    def timing(key: str) -> str:
        text = f"{key[:-2]} {entry[key]:.3f} s"
        if reference is not None:
            cpu = key[:-2] + "_cpu_s"
            text += f" ({reference[key] / entry[key]:.1f}x, CPU {reference[cpu] / entry[cpu]:.1f}x)"
        return text

    parts = [timing(k) for k in TIMINGS]
    rss = f"peak RSS {entry['peak_rss_gib']:.2f} GiB"
    if reference is not None:
        rss += f" ({entry['peak_rss_gib'] / reference['peak_rss_gib']:.2f}x)"
    parts.append(rss)
    if "compile_s" in entry:
        parts.append(f"compile {entry['compile_s']:.0f} s")
    parts.append("huge pages" if entry.get("huge_pages") else "4 KiB pages")
    print(f"{variant} {config}: " + ", ".join(parts), flush=True)
    if reference is not None:
        diffs = ", ".join(f"{k[13:]} {v:.2e}" for k, v in entry.items() if k.startswith("max_abs_diff_"))
        print(f"{variant} {config}: test outputs vs plain_fp32: max |diff| {diffs} "
              f"(hm units; mesh_coord_cam in mm)", flush=True)


def main(argv: list[str]) -> int:
    """Subprocess entry: ``model_benchmark.py SPEC.json RESULT.json``."""
    spec = json.loads(Path(argv[0]).read_text())
    result = run_config(spec)
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
