"""Memory of DataLoader workers over a large Human3.6M-format training annotation (no images needed).

    python tools/benchmark.py workers                                  # 300 000 records, 2 workers, fork and spawn
    python tools/benchmark.py workers --records 20000 --workers 3 --contexts spawn

Writes a synthetic Human3.6M training annotation of ``--records`` records (subjects 1, 5, 6, 7, 8; four cameras per
frame; every frame index a multiple of 5, so every record is kept; SMPL parameters for every frame) into a temporary
folder, builds the ``Human36M`` train split from it and starts a DataLoader with ``--workers`` workers for each
multiprocessing start method in ``--contexts``. Each worker reads its share of the datalist the way sample generation
does (every field of records w, w + W, ...) and runs the SMPL layer once (building it), then reports its memory from
``/proc/self/smaps_rollup``:

* RSS: resident pages, shared ones included (under ``fork`` the parent's pages count until written);
* PSS: proportional share (shared pages divided among the processes mapping them);
* USS: private pages (``Private_Clean + Private_Dirty``): what the worker costs on top of the others.

A reference worker over an empty probe (no dataset) gives the interpreter's own baseline for each start method.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.utils.data  # noqa: E402

H36M_TRAIN_SUBJECTS = (1, 5, 6, 7, 8)
CAMERAS = (1, 2, 3, 4)
ACTIONS = tuple(range(2, 17))
SUBACTIONS = (1, 2)
IMG_W, IMG_H = 1000, 1002


def memory_kib() -> dict[str, int]:
    """This process's RSS, PSS and USS (private) in KiB, from ``/proc/self/smaps_rollup``."""
    fields: dict[str, int] = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "uss": fields["Private_Clean"] + fields["Private_Dirty"]}


def _look_at_rotation(position: np.ndarray) -> np.ndarray:
    """World-to-camera rotation of a camera at ``position`` looking at the origin (world z up)."""
    forward = -position / np.linalg.norm(position)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def write_h36m_annotation(root: Path, model_dir: Path, num_records: int, seed: int = 0) -> int:
    """Write ``<root>/Human36M/annotations/*`` for the train subjects with about ``num_records`` records (rounded
    down to whole frames of four cameras) and the H36M regressor. Returns the number of records written."""
    rng = np.random.default_rng(seed)
    ann_dir = root / "Human36M" / "annotations"
    ann_dir.mkdir(parents=True, exist_ok=True)
    regressor = np.load(model_dir / "J_regressor_h36m_correct.npy")
    np.save(root / "Human36M" / "J_regressor_h36m_correct.npy", regressor)
    frames_per_subject = num_records // (len(H36M_TRAIN_SUBJECTS) * len(CAMERAS))
    sequences = [(a, s) for a in ACTIONS for s in SUBACTIONS]
    image_id = 0
    for subject in H36M_TRAIN_SUBJECTS:
        cams = {}
        for cam in CAMERAS:
            angle = 2 * np.pi * (cam - 1) / len(CAMERAS) + rng.normal(0, 0.1)
            position = np.array([4500.0 * np.cos(angle), 4500.0 * np.sin(angle), 1500.0])
            R = _look_at_rotation(position)
            cams[str(cam)] = {"R": np.round(R, 8).tolist(), "t": np.round(-R @ position, 4).tolist(),
                              "f": [1145.0 + cam, 1144.0 + cam], "c": [512.0 + cam, 515.0 - cam]}
        images, annotations, joints, smpl = [], [], {}, {}
        for k in range(frames_per_subject):
            action, subaction = sequences[k % len(sequences)]
            frame = 5 * (k // len(sequences))
            key = (str(action), str(subaction), str(frame))
            joint_world = rng.normal(0, 300.0, (17, 3)) + np.array([0.0, 0.0, 900.0])
            joints.setdefault(key[0], {}).setdefault(key[1], {})[key[2]] = np.round(joint_world, 4).tolist()
            smpl.setdefault(key[0], {}).setdefault(key[1], {})[key[2]] = {
                "pose": np.round(rng.normal(0, 0.2, 72), 6).tolist(),
                "shape": np.round(rng.normal(0, 1.0, 10), 6).tolist(),
                "trans": np.round(rng.normal(0, 0.3, 3), 6).tolist()}
            for cam in CAMERAS:
                folder = f"s_{subject:02d}_act_{action:02d}_subact_{subaction:02d}_ca_{cam:02d}"
                images.append({"id": image_id, "file_name": f"{folder}/{folder}_{frame + 1:06d}.jpg",
                               "width": IMG_W, "height": IMG_H, "subject": subject, "action_idx": action,
                               "subaction_idx": subaction, "frame_idx": frame, "cam_idx": cam})
                box = [float(v) for v in np.round(rng.uniform([300, 200, 150, 300], [500, 400, 300, 500]), 2)]
                annotations.append({"id": image_id, "image_id": image_id, "bbox": box})
                image_id += 1
        prefix = ann_dir / f"Human36M_subject{subject}"
        for suffix, obj in (("data", {"images": images, "annotations": annotations}), ("camera", cams),
                            ("joint_3d", joints), ("smpl_param", smpl)):
            with open(f"{prefix}_{suffix}.json", "w") as f:
                json.dump(obj, f)
        del images, annotations, joints, smpl
    return image_id


class MemoryProbe(torch.utils.data.Dataset):
    """Item w (one per worker) reads every field of records w, w + W, ... of ``dataset.datalist``, runs the SMPL
    layer once and returns the worker's memory (KiB) before and after. ``dataset=None``: the baseline."""

    def __init__(self, dataset: Any, num_workers: int) -> None:
        self.dataset = dataset
        self.num_workers = num_workers

    def __len__(self) -> int:
        return self.num_workers

    def __getitem__(self, w: int) -> dict[str, Any]:
        start = memory_kib()
        if self.dataset is not None:
            from data.fitting import posed_model

            datalist = self.dataset.datalist
            checksum = 0.0
            first = None
            for j in range(w, len(datalist), self.num_workers):
                record = datalist[j]
                first = first or record
                checksum += float(record.bbox[0]) + float(record.cam.focal[0]) + float(record.joint_img[0, 0])
                checksum += float(record.joint_cam[0, 0]) + float(record.joint_valid[0, 0])
                if record.params is not None:
                    checksum += float(record.params.pose[0]) + float(record.params.shape[0])
                checksum += len(str(record.img_path)) + record.img_shape[0] + len(record.ids)
            posed_model(self.dataset.human_model, first.params.pose, first.params.shape)
            del first, record
        gc.collect()
        return {"worker": w, "pid": os.getpid(), "start": start, "end": memory_kib()}


def probe_workers(dataset: Any, num_workers: int, context: str) -> list[dict[str, Any]]:
    from data.loader import install_fork_guard

    install_fork_guard()
    loader = torch.utils.data.DataLoader(MemoryProbe(dataset, num_workers), batch_size=None,
                                         num_workers=num_workers, multiprocessing_context=context)
    return list(loader)


def _mib(kib: int) -> str:
    return f"{kib / 1024:7.1f}"


def run(records: int, num_workers: int, contexts: list[str], seed: int, model_dir: Path | None) -> dict[str, Any]:
    from common.config import make_config
    from common.utils.human_models import build_human_model
    from data.registry import build_dataset

    results: dict[str, Any] = {"records": records, "workers": num_workers}
    with tempfile.TemporaryDirectory(prefix="i2l_workers_") as tmp:
        tmp_path = Path(tmp)
        if model_dir is None:
            from tools.synthetic.body_models import write_all

            model_dir = tmp_path / "models"
            write_all(model_dir, seed=seed)
        data_dir = tmp_path / "data"
        t0 = time.perf_counter()
        written = write_h36m_annotation(data_dir, model_dir, records, seed)
        print(f"wrote a Human36M annotation of {written} records in {time.perf_counter() - t0:.1f} s", flush=True)
        results["records"] = written
        gc.collect()
        before = memory_kib()
        cfg = make_config(trainset_3d=["Human36M"], trainset_2d=[], data_dir=data_dir, human_model_dir=model_dir,
                          seed=seed)
        t0 = time.perf_counter()
        dataset = build_dataset("Human36M", cfg, "train", build_human_model(False, model_dir))
        gc.collect()
        after = memory_kib()
        packed = getattr(dataset.datalist, "nbytes", None)
        results["main"] = {"before_build": before, "after_build": after, "build_seconds": time.perf_counter() - t0,
                           "len": len(dataset), "datalist_nbytes": packed}
        print(f"main process: built Human36M train ({len(dataset)} records) in {results['main']['build_seconds']:.1f}"
              f" s; RSS {_mib(before['rss'])} -> {_mib(after['rss'])} MiB"
              + ("" if packed is None else f"; packed datalist {packed / 2**20:.1f} MiB ({packed / len(dataset):.0f} B"
                 f" per record)"), flush=True)
        print("                 (MiB)     start: RSS     PSS     USS |   end: RSS     PSS     USS", flush=True)
        for context in contexts:
            for label, ds in (("baseline", None), ("Human36M", dataset)):
                rows = probe_workers(ds, num_workers, context)
                results[f"{context}/{label}"] = rows
                for row in rows:
                    s, e = row["start"], row["end"]
                    print(f"{context:7s} {label:8s} w{row['worker']}  {_mib(s['rss'])} {_mib(s['pss'])} "
                          f"{_mib(s['uss'])} | {_mib(e['rss'])} {_mib(e['pss'])} {_mib(e['uss'])}", flush=True)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", type=int, default=300_000, help="annotation size (records)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers")
    parser.add_argument("--contexts", nargs="+", default=["fork", "spawn"], choices=("fork", "spawn", "forkserver"),
                        help="multiprocessing start methods to measure")
    parser.add_argument("--human_model_dir", type=Path, default=None, help="default: synthetic model files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")


def main_with_args(args: argparse.Namespace) -> int:
    results = run(args.records, args.workers, args.contexts, args.seed, args.human_model_dir)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return main_with_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
