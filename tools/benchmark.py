"""Benchmarks.  First section: data-loader throughput per training set.

    python tools/benchmark.py loader                       # synthetic data (generated into a temp folder)
    python tools/benchmark.py loader --data_dir data --human_model_dir common/utils/human_model_files

For each training set it builds the reader's ``train`` split and times ``__getitem__`` (image read, augmentation,
crop, SMPL/MANO target generation, voxelisation) in this single process, i.e. the throughput of ONE DataLoader worker;
multiply by the number of workers (bounded by the CPU cores) for the loader's ceiling.  Prints one line per dataset
and, with ``--json FILE``, writes the numbers.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from common.utils.human_models import build_human_model  # noqa: E402
from data.dataset import build_dataset  # noqa: E402
from main.config import make_config  # noqa: E402

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
    torch.set_num_threads(1)  # a DataLoader worker runs single-threaded
    for name in names:
        hand = name in HAND_TRAINSETS
        cfg = make_config(trainset_3d=[name] if name != "MSCOCO" else [],
                          trainset_2d=["MSCOCO"] if name == "MSCOCO" else [],
                          testset="FreiHAND" if hand else "PW3D",
                          data_dir=data_dir, human_model_dir=model_dir, seed=seed)
        dataset = build_dataset(name, cfg, "train", build_human_model(hand, model_dir))
        results[name] = time_dataset(dataset, num_samples)
        r = results[name]
        print(f"{name:9s} train: {r['samples_per_s']:7.1f} samples/s per worker "
              f"({r['samples']} samples in {r['seconds']:.2f} s, dataset length {r['dataset_len']})", flush=True)
    return results


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
    args = parser.parse_args(argv)

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
