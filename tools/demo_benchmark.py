"""Frames per second of the video demo on this machine, per stage (``python tools/benchmark.py demo``).

A 640x480 synthetic video of one person walking (the demo media's walker, rendered for the benchmark) runs through
``run_demo`` with a random-weight body snapshot (the network's cost does not depend on its weights):

* ``boxes``: every frame's box from a ``--bbox_json`` file, so people of several frames share a batch;
* ``detect``: ``--detect_every N``: the person detector's forward runs on every N-th frame, with random weights at
  its stated input size (its cost does not depend on the weights either), but the frame's true box is returned, so
  the boxes in between are carried from the predictions as in a real run.

Each runs in fp32 and bf16, with ``--smooth`` and the overlay video rendered and encoded.  The seconds per stage
come from the run's own stage timer; frames per second = frames / wall time of the frame loop (the snapshot and
detector loading excluded, reported apart).
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from common.checkpoint import save_checkpoint
from common.utils.human_models import SMPL
from common.utils.raster import render_meshes
from common.utils.stopwatch import StageTimes
from common.utils.transforms import cam2pixel
from common.utils.video_out import VideoWriter
from main.model import I2LMeshNet
from main.predictor.run import run_demo
from tools.make_demo_input import FOCAL, background, part_colours
from tools.synthetic.demo_media.scene import WALKERS, clipped_box, walk

SIZE = (480, 640)  # (H, W)
STAGES = ("decode", "detect", "crop", "network", "mapping", "track", "smooth", "render", "encode")


def write_video(model_dir: Path, out_dir: Path, frames: int) -> tuple[Path, Path, list[np.ndarray]]:
    """A ``frames``-long 640x480 video of one walker 8 m away, its ``--bbox_json`` file and the boxes."""
    smpl = SMPL(model_dir)
    walker = replace(WALKERS[0], depth=8.0, start_x=-1.2, velocity=0.8 / 30.0)
    verts, _ = walk(smpl, walker, np.zeros(10), frames)
    princpt = (SIZE[1] / 2.0, SIZE[0] / 2.0)
    colours = part_colours(smpl, walker.palette, walker.gender)
    backdrop = background(*SIZE)
    path, boxes = out_dir / "walk.mp4", []
    with VideoWriter(path, 30.0) as writer:
        for t in range(frames):
            image, _, _ = render_meshes([(verts[t], smpl.face, colours)], FOCAL, princpt, SIZE, backdrop)
            writer.write(image)
            boxes.append(clipped_box(cam2pixel(verts[t], FOCAL, princpt)[:, :2], SIZE))
    entries = [{"image_id": t, "bbox": [float(v) for v in b], "score": 1.0, "category_id": 1}
               for t, b in enumerate(boxes)]
    box_file = out_dir / "walk_bbox.json"
    box_file.write_text(json.dumps(entries))
    return path, box_file, boxes


def timed_detector(name: str, boxes: list[np.ndarray], every: int, times: StageTimes):
    """``person_detect`` for ``run_demo``: the detector's real forward (random weights), the true box of the frame
    returned (the detector runs on frames 0, ``every``, 2 ``every`` ...)."""
    from common.detector_weights import build_network  # noqa: PLC0415

    model = build_network(name, score_thresh=0.5).eval()
    calls = {"n": 0}

    def detect(image: np.ndarray) -> list:
        with times("detect"), torch.inference_mode():
            model([torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0])
        frame = calls["n"] * every
        calls["n"] += 1
        return [(boxes[frame], 1.0)]

    return detect, calls


def run_demo_benchmark(frames: int = 30, amps: Sequence[str] = ("fp32", "bf16"), detect_every: int = 5,
                       detector: str = "fasterrcnn_resnet50_fpn", threads: int | None = None,
                       test_batch_size: int = 16, model_path: Path | None = None,
                       human_model_dir: Path | None = None) -> dict:
    """Per mode ("boxes", "detect") and ``--amp``: seconds per stage and frames per second.

    ``model_path`` / ``human_model_dir``: a trained body snapshot and its SMPL files (default: random weights and
    synthetic files); with trained weights the boxes carried between detector frames follow the person."""
    if threads:
        torch.set_num_threads(threads)
    from tools.synthetic.body_models import write_all  # noqa: PLC0415

    results: dict = {"threads": torch.get_num_threads(), "frames": frames, "size": list(SIZE[::-1]),
                     "detector": detector, "detect_every": detect_every, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = Path(human_model_dir) if human_model_dir else tmp / "models"
        if human_model_dir is None:
            write_all(models, seed=0)
        video, box_file, boxes = write_video(models, tmp, frames)
        snapshot = model_path
        if snapshot is None:
            torch.manual_seed(0)
            snapshot = save_checkpoint(tmp / "snapshot.pth.tar", I2LMeshNet(SMPL(models), stage="param"), None, 0,
                                       extra={"stage": "param"})
        results["snapshot"] = "random weights" if model_path is None else str(model_path)
        base = ["--model_path", str(snapshot), "--human_model_dir", str(models), "--video", str(video),
                "--smooth", "--test_batch_size", str(test_batch_size)]
        for amp in amps:
            for mode in ("boxes", "detect"):
                times = StageTimes()
                argv = [*base, "--amp", amp, "--out_dir", str(tmp / f"out_{mode}_{amp}")]
                if mode == "boxes":
                    detect, calls = None, {"n": 0}
                    argv += ["--bbox_json", str(box_file)]
                else:
                    detect, calls = timed_detector(detector, boxes, detect_every, times)
                    argv += ["--detect_every", str(detect_every)]
                start = time.perf_counter()
                run_demo(argv, times=times, person_detect=detect)
                wall = time.perf_counter() - start
                loop = wall - times.seconds.get("network load", 0.0)
                doc = json.loads((tmp / f"out_{mode}_{amp}" / "results.json").read_text())
                results["runs"][f"{mode}_{amp}"] = {
                    "seconds": dict(times.seconds), "wall_s": wall, "loop_s": loop, "fps": frames / loop,
                    "detector_calls": calls["n"], "people": sum(len(f["people"]) for f in doc["frames"]),
                    "per_frame_ms": {k: 1000.0 * times.seconds.get(k, 0.0) / frames for k in STAGES}}
    return results


def print_table(results: dict) -> None:
    print(f"\n{results['frames']} frames of {results['size'][0]}x{results['size'][1]}, one person, "
          f"{results['threads']} threads; detector {results['detector']} every {results['detect_every']} frames "
          f"(detect runs)\n")
    print(f"snapshot: {results['snapshot']}")
    print("| run | fps | people run | " + " | ".join(f"{s} ms/frame" for s in STAGES) + " |")
    print("|---|---|---|" + "---|" * len(STAGES))
    for name, run in results["runs"].items():
        print(f"| {name} | {run['fps']:.2f} | {run['people']} | "
              + " | ".join(f"{run['per_frame_ms'][s]:.1f}" for s in STAGES) + " |")
