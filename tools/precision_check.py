"""What mixed precision changes on a trained snapshot: the test metrics and outputs under ``--amp`` against fp32.

    python tools/precision_check.py --model_path output/model_dump/snapshot_7.pth.tar [--amp bf16 fp16]
        [--testset PW3D] [--data_dir DIR] [--human_model_dir DIR] [--test_batch_size 16]

Runs the test driver (:class:`main.tester.Tester`, the fast test-only path) on the snapshot once in fp32 and once
per ``--amp`` dtype, on the same samples, and prints each metric with its change against fp32 and the largest change
of the predicted joints (hm units).  Results go to ``--workdir`` (one output folder per precision).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common.allocator import enable_huge_pages  # noqa: E402

enable_huge_pages()  # before torch is imported (common/allocator.py)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common.checkpoint import inspect_checkpoint, load_checkpoint_file  # noqa: E402
from common.config import make_config  # noqa: E402
from common.launch import DistContext  # noqa: E402
from main.tester import Tester  # noqa: E402


def run_precision_check(model_path: Path, amps: list[str], workdir: Path, device: torch.device, **config) -> dict:
    """Test ``model_path`` in fp32 and in each of ``amps``; returns ``{precision: {"metrics": {...},
    "max_abs_diff_joint_coord_img": float, "max_abs_diff": {metric: float}}}`` (diffs against fp32)."""
    info = inspect_checkpoint(load_checkpoint_file(model_path), model_path)
    if info.is_hand and "testset" not in config:
        config = {**config, "trainset_3d": ["FreiHAND"], "trainset_2d": [], "testset": "FreiHAND"}
    ctx = DistContext(0, 1, 0, device)
    results: dict[str, dict] = {}
    predictions: dict[str, dict[str, np.ndarray]] = {}
    for amp in ["fp32"] + [a for a in amps if a != "fp32"]:
        cfg = make_config(stage=info.stage or "param", output_dir=workdir / amp, amp=amp, **config)
        metrics = Tester(cfg, ctx, model_path=model_path).run()
        files = sorted(cfg.result_dir.glob("predictions_*.npz"))
        with np.load(files[-1]) as npz:
            predictions[amp] = {k: npz[k] for k in npz.files}
        results[amp] = {"metrics": metrics}
    reference = predictions["fp32"]
    for amp, entry in results.items():
        if amp == "fp32":
            continue
        pred = predictions[amp]
        assert np.array_equal(pred["sample_idx"], reference["sample_idx"])
        entry["max_abs_diff_joint_coord_img"] = float(np.abs(pred["joint_coord_img"] - reference["joint_coord_img"]).max())
        entry["mean_diff"] = {k: v - results["fp32"]["metrics"][k] for k, v in entry["metrics"].items()}
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_path", type=Path, required=True, help="snapshot to test (.pth.tar)")
    parser.add_argument("--amp", nargs="+", choices=("bf16", "fp16"), default=None,
                        help="precisions to compare with fp32 (default: bf16, and fp16 on CUDA)")
    parser.add_argument("--testset", default=None, help="default: PW3D (body), FreiHAND (hand)")
    parser.add_argument("--data_dir", type=Path, default=None)
    parser.add_argument("--human_model_dir", type=Path, default=None)
    parser.add_argument("--test_batch_size", type=int, default=16)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    amps = args.amp or (["bf16", "fp16"] if device.type == "cuda" else ["bf16"])
    config = {"test_batch_size": args.test_batch_size, "num_thread": 0}
    for key in ("testset", "data_dir", "human_model_dir"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    with tempfile.TemporaryDirectory(prefix="i2l_precision_") as tmp:
        results = run_precision_check(args.model_path, amps, args.workdir or Path(tmp), device, **config)
    print(f"\n{args.model_path}: test metrics by precision (change against fp32)")
    for amp, entry in results.items():
        line = ", ".join(f"{k} {v:.2f}" + (f" ({entry['mean_diff'][k]:+.3f})" if amp != "fp32" else "")
                         for k, v in entry["metrics"].items())
        print(f"  {amp}: {line}")
        if amp != "fp32":
            print(f"  {amp}: predicted joints max |diff| {entry['max_abs_diff_joint_coord_img']:.4f} hm units")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
