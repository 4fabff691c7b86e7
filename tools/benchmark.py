"""Benchmarks: data-loader throughput per training set, network step time, and the video demo's frames per second.

    python tools/benchmark.py loader                       # synthetic data (generated into a temp folder)
    python tools/benchmark.py loader --data_dir data --human_model_dir common/utils/human_model_files
    python tools/benchmark.py workers [--records 300000] [--workers 2] [--contexts fork spawn]
    python tools/benchmark.py model [--batch_size 16] [--amp bf16 fp16] [--recompute] [--compile] [--threads N]
                                    [--profile] [--json FILE]
    python tools/benchmark.py demo [--frames 30] [--amp fp32 bf16] [--detect_every 5] [--detector NAME]
                                   [--model_path SNAPSHOT --human_model_dir DIR] [--json FILE]

``loader``: for each training set it builds the reader's ``train`` split and times ``__getitem__`` (image read,
augmentation, crop, SMPL/MANO target generation, voxelisation) in this single process, i.e. the throughput of ONE
DataLoader worker; multiply by the number of workers (bounded by the CPU cores) for the loader's ceiling.  Prints one
line per dataset and, with ``--json FILE``, writes the numbers.

``model``: the plain fp32 path (the original's computation) and the fast path(s) the drivers use, each in its own
process: seconds per training step of each stage and per test forward, peak memory of a lixel training step, the
change of the outputs against plain fp32, and the ratios fast/plain in wall and in process CPU time (see
:mod:`tools.model_benchmark`).  ``--profile`` prints the top operators and modules by time instead.  On a shared
machine the CPU-time ratios are the steadier ones (``--threads 1`` steadier still).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.allocator import enable_huge_pages  # noqa: E402

enable_huge_pages()  # before torch is imported (common/allocator.py)

import torch  # noqa: E402

from common.config import make_config  # noqa: E402
from common.utils.human_models import build_human_model  # noqa: E402
from data.registry import build_dataset  # noqa: E402
from tools.model_benchmark import CONFIGS, run_model_benchmark  # noqa: E402,F401 (re-exported)
from tools.stand_in_weights import random_batch  # noqa: E402,F401 (re-exported)

BODY_TRAINSETS = ("Human36M", "MuCo", "MSCOCO")
HAND_TRAINSETS = ("FreiHAND",)


def time_dataset(dataset: torch.utils.data.Dataset, num_samples: int, warmup: int = 2) -> dict:
    """Time ``num_samples`` calls of ``dataset[i]`` (indices cycle over the dataset) after ``warmup`` calls."""
    n = len(dataset)
    for i in range(min(warmup, n)):
        dataset[i]
    start = time.perf_counter()
    for i in range(num_samples):
        dataset[i % n]
    elapsed = time.perf_counter() - start
    return {"samples": num_samples, "seconds": elapsed, "samples_per_s": num_samples / elapsed, "dataset_len": n}


def bench_loader(data_dir: Path, model_dir: Path, names: list[str], num_samples: int, seed: int) -> dict[str, dict]:
    results: dict[str, dict] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a DataLoader worker runs single-threaded
    try:
        for name in names:
            results[name] = _bench_one_loader(name, data_dir, model_dir, num_samples, seed)
    finally:
        torch.set_num_threads(threads)
    return results


def _bench_one_loader(name: str, data_dir: Path, model_dir: Path, num_samples: int, seed: int) -> dict:
    hand = name in HAND_TRAINSETS
    cfg = make_config(trainset_3d=[name] if name != "MSCOCO" else [],
                      trainset_2d=["MSCOCO"] if name == "MSCOCO" else [],
                      testset="FreiHAND" if hand else "PW3D",
                      data_dir=data_dir, human_model_dir=model_dir, seed=seed)
    dataset = build_dataset(name, cfg, "train", build_human_model(hand, model_dir))
    dataset.set_epoch(0)
    r = time_dataset(dataset, num_samples)
    print(f"{name:9s} train: {r['samples_per_s']:7.1f} samples/s per worker "
          f"({r['samples']} samples in {r['seconds']:.2f} s, dataset length {r['dataset_len']})", flush=True)
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    loader = sub.add_parser("loader", help="samples per second per worker for each training set")
    loader.add_argument("--data_dir", type=Path, default=None,
                        help="datasets folder (default: synthetic datasets generated into a temporary folder)")
    loader.add_argument("--human_model_dir", type=Path, default=None,
                        help="SMPL/MANO files (default: synthetic ones, with --data_dir unset)")
    loader.add_argument("--datasets", nargs="+", default=list(BODY_TRAINSETS + HAND_TRAINSETS))
    loader.add_argument("--num_samples", type=int, default=200)
    loader.add_argument("--size", choices=("test", "small"), default="small", help="synthetic data size")
    loader.add_argument("--seed", type=int, default=0)
    loader.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    from tools import worker_memory

    workers = sub.add_parser("workers", help="memory per DataLoader worker over a large Human36M annotation "
                                             "(see tools/worker_memory.py)")
    worker_memory.add_arguments(workers)
    model = sub.add_parser("model", help="seconds per training step and test forward, per stage and variant")
    model.add_argument("--human_model_dir", type=Path, default=None, help="default: synthetic model files")
    model.add_argument("--variants", nargs="+", choices=("body", "hand"), default=["body", "hand"])
    model.add_argument("--batch_size", type=int, default=16)
    model.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    model.add_argument("--amp", nargs="*", choices=("bf16", "fp16"), default=None,
                       help="autocast dtypes of the fast path to measure besides fp32 (default: bf16, and fp16 on "
                            "CUDA; CPUs without AVX512-FP16 run fp16 convolutions very slowly)")
    model.add_argument("--compile", action="store_true", help="also measure the fast configurations compiled")
    model.add_argument("--recompute", action="store_true",
                       help="also measure the fast configurations with activation recomputation (less memory)")
    model.add_argument("--configs", nargs="+", choices=CONFIGS, default=None,
                       help="measure only these configurations (plain_fp32 is always measured first, except with "
                            "--profile)")
    model.add_argument("--threads", type=int, default=None,
                       help="torch threads in the measuring processes (default: torch's default)")
    model.add_argument("--huge_pages", choices=("fast", "all", "none"), default="fast",
                       help="which measuring processes get transparent huge pages for large tensors "
                            "(common/allocator.py): the fast configurations, as the drivers run (default), all, or "
                            "none; plain_fp32 runs as the original does unless 'all'")
    model.add_argument("--steps", type=int, default=3, help="timed iterations (the median is reported)")
    model.add_argument("--warmup", type=int, default=1)
    model.add_argument("--profile", action="store_true",
                       help="print the top operators and modules by time for one train step and one test forward "
                            "per stage, instead of the timings")
    model.add_argument("--json", type=Path, default=None,
                       help='write {"body": {"plain_fp32": {...}, "fast_fp32": {...}, ...}, "hand": {...}}')
    demo = sub.add_parser("demo", help="frames per second of the video demo, per stage (tools/demo_benchmark.py)")
    demo.add_argument("--frames", type=int, default=30)
    demo.add_argument("--amp", nargs="+", choices=("fp32", "bf16", "fp16"), default=["fp32", "bf16"])
    demo.add_argument("--detect_every", type=int, default=5)
    demo.add_argument("--detector", default="fasterrcnn_resnet50_fpn", help="person detector timed in 'detect' runs")
    demo.add_argument("--test_batch_size", type=int, default=16)
    demo.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    demo.add_argument("--model_path", type=Path, default=None, help="a trained body snapshot (default: random)")
    demo.add_argument("--human_model_dir", type=Path, default=None, help="its SMPL files (default: synthetic)")
    demo.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    if args.what == "demo":
        from tools.demo_benchmark import print_table, run_demo_benchmark

        results = run_demo_benchmark(args.frames, args.amp, args.detect_every, args.detector, args.threads,
                                     args.test_batch_size, args.model_path, args.human_model_dir)
        print_table(results)
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    if args.what == "workers":
        return worker_memory.main_with_args(args)
    if args.what == "model":
        amps = args.amp if args.amp is not None else ["bf16"] + (["fp16"] if args.device.startswith("cuda") else [])
        configs = args.configs or ["plain_fp32", "fast_fp32"] + [f"fast_{a}" for a in amps]
        if not (args.profile and args.configs):  # ratios need the reference; a profile of chosen configs does not
            configs = ["plain_fp32"] + [c for c in dict.fromkeys(configs) if c != "plain_fp32"]
        if args.recompute:
            configs += [f"{c}_recompute" for c in configs if c.startswith("fast_") and "_recompute" not in c]
        if args.compile:
            configs += [f"{c}_compile" for c in configs if c.startswith("fast_")]
        with tempfile.TemporaryDirectory(prefix="i2l_bench_") as tmp:
            model_dir = args.human_model_dir
            if model_dir is None:
                from tools.synthetic.body_models import write_all

                model_dir = Path(tmp) / "models"
                write_all(model_dir, seed=0)
            run_model_benchmark(model_dir, args.variants, configs, args.batch_size, args.device, args.steps,
                                args.warmup, profile=args.profile, json_path=args.json, threads=args.threads,
                                huge_pages=args.huge_pages)
        return 0

    with tempfile.TemporaryDirectory(prefix="i2l_bench_") as tmp:
        model_dir, data_dir = args.human_model_dir, args.data_dir
        if data_dir is None:
            from tools.synthetic.body_models import write_all
            from tools.synthetic.datasets import write_datasets

            if model_dir is None:
                model_dir = Path(tmp) / "models"
                write_all(model_dir, seed=args.seed)
            data_dir = Path(tmp) / "data"
            print(f"generating synthetic '{args.size}' datasets into {data_dir} ...", flush=True)
            write_datasets(data_dir, model_dir, names=args.datasets, seed=args.seed, size=args.size)
        elif model_dir is None:
            parser.error("--human_model_dir is required with --data_dir")
        results = bench_loader(data_dir, model_dir, args.datasets, args.num_samples, args.seed)
    if args.json is not None:
        args.json.write_text(json.dumps({"loader": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
