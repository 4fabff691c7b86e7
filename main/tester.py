"""Test driver: load a snapshot strictly, run the test set, evaluate in sample order.

Each process runs its shard of the test set (:class:`common.sampler.EpochSampler`, no shuffling); the per-sample
outputs are gathered on rank 0 with their sample indices, de-duplicated and sorted (:mod:`common.sharded_eval`), so
the metrics equal a single-process run.  Rank 0 prints the dataset's result lines as the original does (plain lines;
the time-stamped copy goes into ``output/log/test_logs.txt``) and writes ``output/result/``:
``metrics_<testset>_<stage>_<epoch>.json`` (mean of every per-sample metric),
``predictions_<testset>_<stage>_<epoch>.npz`` (sample index, per-sample metrics, joints in hm units and the
crop-to-image affine of each sample) and, for FreiHAND, ``pred.json``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.checkpoint import SNAPSHOT_RE, CheckpointError, load_checkpoint_file, load_network, snapshot_path
from common.config import Config
from common.launch import DistContext, to_device
from common.logger import make_logger, progress_bar, report_removed_temporaries
from common.nets.inference import prepare_inference
from common.nets.precision import autocast_context
from common.sampler import EpochSampler
from common.sharded_eval import batch_to_samples, evaluate_samples, gather_samples, merge_results
from common.utils.human_models import build_human_model
from common.utils.io import atomic_write_bytes
from data.loader import make_loader, num_workers
from data.registry import build_dataset
from main.networks import build_model_from_config

# small per-sample outputs kept in the predictions file (meshes are not: too large to keep for every sample)
SAVED_OUTPUTS = ("joint_coord_img", "bb2img_trans")


def evaluation_inputs(out: dict[str, torch.Tensor], targets: dict, meta_info: dict) -> dict[str, torch.Tensor]:
    """What the datasets evaluate for a batch: the network's outputs, the crop-to-image affine of each sample
    (``bb2img_trans`` (B, 2, 3)) and, where the test set has it, the ground-truth mesh (``mesh_coord_cam_target``)."""
    result = {**out, "bb2img_trans": meta_info["bb2img_trans"]}
    if "fit_mesh_coord_cam" in targets:
        result["mesh_coord_cam_target"] = targets["fit_mesh_coord_cam"]
    return result


def resolve_snapshot(cfg: Config, test_epoch: int | None, model_path: str | Path | None) -> Path:
    """``--model_path`` or ``output/model_dump/snapshot_{test_epoch}.pth.tar``; a missing file lists what exists."""
    if model_path is not None:
        path = Path(model_path)
        if not path.is_file():
            raise CheckpointError(f"--model_path {path}: file not found")
        return path
    if test_epoch is None:
        raise ValueError("--test_epoch is required (or give --model_path FILE)")
    path = snapshot_path(cfg.model_dir, test_epoch)
    if not path.is_file():
        folder = Path(cfg.model_dir)
        found = sorted(int(m.group(1)) for p in folder.iterdir() if (m := SNAPSHOT_RE.match(p.name))) \
            if folder.is_dir() else []
        available = f"epochs available there: {found}" if found else "no snapshot there"
        raise CheckpointError(f"--test_epoch {test_epoch}: cannot find model at {path} ({available}); "
                                f"pass an existing --test_epoch, --output_dir or --model_path FILE")
    return path


def summarize(eval_result: dict[str, list]) -> dict[str, float]:
    """Mean over samples of every scalar per-sample metric (``nan`` for an empty list)."""
    summary: dict[str, float] = {}
    for key, values in eval_result.items():
        arr = np.asarray(values, dtype=object if not values else None)
        if values and arr.dtype != object and arr.ndim == 1 and np.issubdtype(arr.dtype, np.number):
            summary[key] = float(np.mean(arr))
        elif not values:
            summary[key] = math.nan
    return summary


class Tester:
    """Runs ``cfg.testset`` through the snapshot of ``test_epoch`` (or ``model_path``) on ``ctx.device``."""

    __test__ = False  # not a pytest test class

    def __init__(self, cfg: Config, ctx: DistContext, test_epoch: int | None = None,
                 model_path: str | Path | None = None) -> None:
        self.cfg, self.ctx, self.device = cfg, ctx, ctx.device
        self.test_epoch = test_epoch
        if ctx.is_main:
            cfg.make_dirs()
        self.logger = make_logger("test", cfg.log_dir / "test_logs.txt" if ctx.is_main else None, console=ctx.is_main)
        # the result lines: printed plainly as the original, time-stamped in the log file only
        self.result_log = make_logger("test_results", cfg.log_dir / "test_logs.txt" if ctx.is_main else None,
                                      console=False)
        if ctx.is_main:
            report_removed_temporaries(cfg.result_dir, self.logger.info)
        self.path = resolve_snapshot(cfg, test_epoch, model_path)  # first: a wrong epoch is the cheapest error
        self.logger.info("Creating dataset...")
        human_model = build_human_model(cfg.is_hand, cfg.human_model_dir)
        self.test_set = build_dataset(cfg.testset, cfg, "test", human_model)
        self.sampler = EpochSampler(len(self.test_set), ctx.rank, ctx.world_size, shuffle=False)
        self.loader = make_loader(self.test_set, cfg.test_batch_size, self.sampler, num_workers(cfg, ctx),
                                  self.device, train=False)
        self.logger.info(f"Load checkpoint from {self.path}")
        ckpt = load_checkpoint_file(self.path)
        self.logger.info("Creating graph...")
        model = build_model_from_config(cfg, human_model)
        load_network(model, ckpt["network"], source=str(self.path))
        model = model.to(self.device).eval()
        # the fast path tests a test-only network: BatchNorm folded into the convolutions, conv weights in the --amp
        # dtype (the same outputs to float rounding); --exact keeps the original's unfolded float32 network
        self.model = model if cfg.exact else prepare_inference(model, cfg.amp)
        self.snapshot_epoch = ckpt.get("epoch", test_epoch)
        self.writer_epoch = int(self.snapshot_epoch) if isinstance(self.snapshot_epoch, int) else None

    def evaluate_shard(self) -> list[tuple[int, dict[str, Any]]]:
        """This process's (sample index, record) pairs; a record holds the sample's evaluation result
        (``'result'``: the dataset's per-sample metrics) and its small outputs (joints in hm units, crop affine).

        Samples are evaluated batch by batch on every process (as the original evaluates in its loop), so only the
        per-sample results travel to rank 0, not the meshes."""
        records: list[tuple[int, dict[str, Any]]] = []
        progress = progress_bar(self.ctx.is_main, len(self.loader))
        with torch.inference_mode():
            for inputs, targets, meta_info in self.loader:
                inputs, targets, meta_device = (to_device(b, self.device) for b in (inputs, targets, meta_info))
                with autocast_context(self.device, self.cfg.amp):
                    out = self.model(inputs, targets, meta_device, "test")
                samples = batch_to_samples(evaluation_inputs(out, targets, meta_info), meta_info["sample_idx"])
                for (index, result), (_, sample) in zip(evaluate_samples(self.test_set, samples), samples):
                    records.append((index, {"result": result, **{k: sample[k] for k in SAVED_OUTPUTS if k in sample}}))
                if progress is not None:
                    progress.update(1)
        if progress is not None:
            progress.close()
        return records

    def run(self) -> dict[str, float] | None:
        """Evaluate this process's shard, gather, report and write the results; returns the metric means on rank 0
        (None elsewhere)."""
        gathered = gather_samples(self.evaluate_shard(), expected_len=len(self.test_set))
        if gathered is None:
            return None
        indices, records = gathered
        eval_result = merge_results([r["result"] for r in records])
        report = self.test_set.report(eval_result, self.cfg.result_dir)
        for name, content in report.files.items():
            atomic_write_bytes(self.cfg.result_dir / name, content)
        for line in report.lines:
            print(line, flush=True)
            self.result_log.info(line)
        metrics = {**summarize(eval_result), **report.scores}
        if self.writer_epoch is not None:
            self._write_tensorboard(metrics)
        self._write_results(indices, records, eval_result, metrics)
        return metrics

    def _write_tensorboard(self, metrics: dict[str, float]) -> None:
        from torch.utils.tensorboard import SummaryWriter  # imported only where events are written

        with SummaryWriter(str(self.cfg.log_dir / "tensorboard" / f"test_{self.cfg.testset}")) as writer:
            for key, value in metrics.items():
                writer.add_scalar(f"test/{key}", value, self.writer_epoch)

    def _write_results(self, indices: list[int], outs: list[dict], eval_result: dict[str, list],
                       metrics: dict[str, float]) -> None:
        cfg = self.cfg
        tag = f"{cfg.testset}_{cfg.stage}_{self.snapshot_epoch}"
        info = {"testset": cfg.testset, "stage": cfg.stage, "snapshot": str(self.path), "epoch": self.snapshot_epoch,
                "samples": len(indices), "metrics": metrics}
        atomic_write_bytes(cfg.result_dir / f"metrics_{tag}.json",
                           json.dumps(info, indent=2, allow_nan=True).encode())
        arrays: dict[str, np.ndarray] = {"sample_idx": np.asarray(indices, dtype=np.int64)}
        for key in SAVED_OUTPUTS:
            if outs and key in outs[0]:
                arrays[key] = np.stack([o[key] for o in outs]).astype(np.float32)
        for key, values in eval_result.items():
            arr = np.asarray(values) if values else None
            if arr is not None and arr.dtype != object and arr.shape[0] == len(indices) and arr.ndim == 1:
                arrays[key] = arr
        buffer = _npz_bytes(arrays)
        atomic_write_bytes(cfg.result_dir / f"predictions_{tag}.npz", buffer)
        self.logger.info(f"Results written to {cfg.result_dir} (metrics_{tag}.json, predictions_{tag}.npz)")


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def run_test_process(ctx: DistContext, cfg: Config, test_epoch: int | None, model_path: str | None) -> dict | None:
    """Entry point of one test process (called through :func:`common.launch.launch`)."""
    torch.backends.cudnn.benchmark = True
    return Tester(cfg, ctx, test_epoch, model_path).run()
