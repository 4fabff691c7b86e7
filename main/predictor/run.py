"""The demo: an image, a folder of images or a video in; overlays, meshes and results files out (docs/demo.md).

``run_demo(argv)`` is the whole demo (``demo/demo.py`` calls :func:`main`); its steps (``read_snapshot``,
``pick_device``, ``load_predictors``, ``camera_for_flags``, ``find_people``, ``write_run``, ``run_flags``) are
public for the other front end, the browser demo.  Order: flags, input
and detection files are checked first; then detectors and networks are built; then frames stream through the
pipeline and every output is staged, moved into ``--out_dir`` only when the input has been read to its end.  Units:
metres in camera space (OpenCV axes: x right, y down, z forward), pixels in the image.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from common.checkpoint import inspect_checkpoint, load_checkpoint_file
from common.config import parse_gpu_ids
from common.errors import run_reporting_user_errors
from common.logger import report_removed_temporaries
from common.nets.precision import slow_amp_warning
from common.utils.io import StagedFolder
from common.utils.media import Frame
from common.utils.stopwatch import StageTimes
from common.utils.vis import MeshRenderer
from main.cli import config_overrides, wants_debug
from main.predictor.camera import VIRTUAL_FOCAL, Camera, resolve_camera
from main.predictor.errors import DemoError
from main.predictor.finders import Finder, FixedFinder
from main.predictor.inputs import InputSource, open_input
from main.predictor.options import build_parser, check_args, input_kind, smooth_options, track_options
from main.predictor.outputs import check_out_dir, make_output_files
from main.predictor.people import DEMO_DIR, check_box, check_image_people, make_finder
from main.predictor.pipeline import FrameOutput, FramePipeline
from main.predictor.predictor import Predictor, check_stage
from main.predictor.results import RunInfo
from main.predictor.sinks import OutputOptions, RunWriter

__all__ = ["VIRTUAL_FOCAL", "camera_for_flags", "find_people", "load_predictors", "main", "pick_device",
           "read_snapshot", "run_demo", "run_flags", "single_image_people", "timed_frames", "write_image_files",
           "write_run"]


def pick_device(gpu: str | None) -> torch.device:
    """The first ``--gpu`` id (default 0) when CUDA is available, else the CPU (said on the console)."""
    if torch.cuda.is_available():
        return torch.device("cuda", parse_gpu_ids(gpu)[0] if gpu else 0)
    print("CUDA is not available: running on the CPU" + (f" (--gpu {gpu} ignored)" if gpu else ""))
    return torch.device("cpu")


def camera_for_flags(args: argparse.Namespace):
    warned: set[str] = set()

    def camera_for(frame: Frame) -> Camera:
        height, width = frame.image.shape[:2]
        camera, warning = resolve_camera(args.focal, args.fov, args.princpt, width, height, frame.focal_35mm)
        if warning and warning not in warned:
            warned.add(warning)
            print(f"warning: {warning}")
        return camera

    return camera_for


def load_predictors(args: argparse.Namespace, checkpoint: dict, device: torch.device,
                times: StageTimes) -> dict[str, Predictor]:
    model_path = _model_path(args)
    overrides = config_overrides(args)
    overrides.pop("stage", None)
    with times("network load"):
        main_predictor = Predictor(model_path, overrides, args.stage, device, checkpoint, times)
        del checkpoint
        print(f"Load checkpoint from {model_path} ({main_predictor.kind} model)")
        predictors = {main_predictor.kind: main_predictor}
        if args.hand_model_path is not None:
            if main_predictor.kind != "body":
                raise DemoError(f"--hand_model_path goes beside a body snapshot, but {model_path} is a hand model; "
                                f"pass the hand snapshot with --model_path alone")
            hands = Predictor(args.hand_model_path, overrides, args.stage, device, times=times)
            if hands.kind != "hand":
                raise DemoError(f"--hand_model_path {args.hand_model_path} is a body model; give a hand snapshot")
            predictors["hand"] = hands
            print(f"Load checkpoint from {args.hand_model_path} (hand model)")
    return predictors


def _model_path(args: argparse.Namespace) -> Path:
    return args.model_path or DEMO_DIR / f"snapshot_{args.test_epoch}.pth.tar"


def read_snapshot(args: argparse.Namespace) -> tuple[dict, str]:
    """The snapshot's contents and its kind ("body" / "hand", from its weights), before any network is built."""
    path = _model_path(args)
    checkpoint = load_checkpoint_file(path)
    info = inspect_checkpoint(checkpoint, path)
    check_stage(info, args.stage, path)
    return checkpoint, "hand" if info.is_hand else "body"


def single_image_people(finder, source: InputSource, args: argparse.Namespace, kinds: set[str]) -> FixedFinder:
    """The one image's candidates, found and checked before the networks are built."""
    frame = next(source.frames())
    height, width = frame.image.shape[:2]
    candidates = finder.find(frame, 0) or []
    check_image_people(candidates, args, source.path, kinds)
    for c in candidates:
        c.bbox = check_box(c.bbox, width, height, c.source)
    depths = args.root_depth
    if depths is not None:
        if len(depths) not in (1, len(candidates)):
            raise DemoError(f"--root_depth: {len(depths)} values for {len(candidates)} boxes; give one value or one "
                            f"per box")
        for k, c in enumerate(candidates):
            c.root_depth = float(depths[0] if len(depths) == 1 else depths[k])
    return FixedFinder(candidates)


def run_demo(argv: Sequence[str] | None = None, times: StageTimes | None = None,
             person_detect: Callable[[np.ndarray], list] | None = None) -> dict[str, Path]:
    """Run the demo with command-line arguments ``argv``; returns the written files (name -> path).

    ``times`` collects the seconds per stage (decode, detect, crop, network, smooth, render, encode ...);
    ``person_detect`` (image -> [(bbox, score)]) replaces the person detector (the benchmark's timed stand-in)."""
    args = build_parser().parse_args(None if argv is None else list(argv))
    kind = input_kind(args)
    check_args(args, kind)
    check_out_dir(args.out_dir)
    times = times if times is not None else StageTimes()
    source = open_input(args, kind)
    checkpoint, main_kind = read_snapshot(args)
    kinds = {main_kind} | ({"hand"} if args.hand_model_path is not None else set())
    device = pick_device(args.gpu)
    warning = slow_amp_warning(device, config_overrides(args).get("amp"))
    if warning:
        print(f"warning: {warning}")
    finder = find_people(args, source, main_kind, kinds, device, times, person_detect)
    predictors = load_predictors(args, checkpoint, device, times)
    del checkpoint
    pipeline = FramePipeline(predictors, finder, camera_for_flags(args), track_options(args, kind),
                             smooth_options(args), fps=source.fps, times=times)
    info = RunInfo(input=str(source.path), input_kind=kind, kinds=tuple(sorted(kinds)), stage=args.stage,
                   fps=source.fps, flags=run_flags(args))
    options = OutputOptions(save_mesh=args.save_mesh, mesh_format=args.mesh_format, side_view=args.side_view)
    faces = {k: p.faces for k, p in predictors.items()}
    report_removed_temporaries(args.out_dir, print)
    from tqdm import tqdm  # noqa: PLC0415

    with StagedFolder(args.out_dir) as stage, MeshRenderer(args.renderer) as renderer, \
            tqdm(total=source.expected_frames, disable=kind == "image", unit="frame", desc=source.path.name) as bar:
        writer = RunWriter(stage, info, source.stem, faces, options, renderer, stride=args.stride, times=times)
        write_run(pipeline, source, writer, stage, renderer, args, predictors[main_kind], times,
                  on_frame=lambda out: bar.update(1))
        print(f"Rendered with: {renderer.name}")
    written = {name: args.out_dir / name for name in stage.names}
    print(f"wrote {len(written)} file(s) into {args.out_dir}: " + ", ".join(sorted(written)[:8])
          + (" ..." if len(written) > 8 else ""))
    print("time (s): " + times.line())
    return written


def find_people(args: argparse.Namespace, source: InputSource, main_kind: str, kinds: set[str],
                device: torch.device, times: StageTimes,
                person_detect: Callable[[np.ndarray], list] | None = None) -> Finder:
    """The run's finder (:func:`make_finder`); for one image, its people found and checked now, before any network
    is built (:func:`single_image_people`)."""
    finder = make_finder(args, source, main_kind, "hand" in kinds and main_kind != "hand", device, times,
                         person_detect)
    return single_image_people(finder, source, args, kinds) if source.kind == "image" else finder


def write_run(pipeline: FramePipeline, source: InputSource, writer: RunWriter, stage: StagedFolder,
              renderer: MeshRenderer, args: argparse.Namespace, main_predictor: Predictor, times: StageTimes,
              on_frame: Callable[[FrameOutput], None] | None = None) -> None:
    """Every frame through the pipeline into ``writer`` (``on_frame(out)`` after each), a single image's own files,
    then the results; on any failure the writer is aborted (the staging folder is dropped by its owner)."""
    try:
        image_out = None
        for out in pipeline.run(timed_frames(source, times)):
            writer.add(out)
            if source.kind == "image":
                image_out = out
            if on_frame is not None:
                on_frame(out)
        if image_out is not None:
            write_image_files(stage, image_out, main_predictor, args, renderer, times)
        writer.finish()
    except BaseException:
        writer.abort()
        raise


def timed_frames(source: InputSource, times: StageTimes):
    frames = source.frames()
    while True:
        with times("decode"):
            frame = next(frames, None)
        if frame is None:
            return
        yield frame


def write_image_files(stage: StagedFolder, out: FrameOutput, predictor: Predictor, args: argparse.Namespace,
                       renderer: MeshRenderer, times: StageTimes) -> None:
    """The single-image outputs: per stage a vertex drawing, a rendering (and side view) and one OBJ per person."""
    people = [p for p in out.people if p.result.kind == predictor.kind]
    for k, p in enumerate(people):
        score = "" if p.result.score is None else f", score {p.result.score:.3f}"
        print(f"person {k}: box {np.round(p.result.bbox, 1).tolist()}{score}, processed box "
              f"{np.round(p.bbox_proc, 1).tolist()}, root depth {p.result.root_depth:.3f} m ({p.depth_source})")
    stages = ("lixel",) if args.stage == "lixel" else ("lixel", "param")
    image = np.clip(np.round(out.frame.image), 0, 255).astype(np.uint8)
    with times("render"):
        files = make_output_files(image, [p.mesh for p in people], predictor.faces, out.camera.focal,
                                  out.camera.princpt, stages, renderer, args.side_view)
    for name, data in files.items():
        stage.write(name, data)


def run_flags(args: argparse.Namespace) -> dict:
    """The flags that shape the results, as JSON values (for results.json's ``info``)."""
    names = ("stage", "model_path", "hand_model_path", "test_epoch", "start", "end", "stride", "bbox_json",
             "keypoints_json", "hands", "det_thresh", "detector", "detect_every", "iou_thresh", "max_missed", "smooth",
             "smooth_min_cutoff", "smooth_beta", "fov", "amp", "exact")
    flags = {n: getattr(args, n, None) for n in names}
    flags["focal"] = list(args.focal) if isinstance(args.focal, tuple) else args.focal
    return {k: str(v) if isinstance(v, Path) else v for k, v in flags.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: run the demo; bad input prints a one-line error (exit status 1) unless ``--debug``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return run_reporting_user_errors(lambda: run_demo(argv), debug=wants_debug(argv))
