"""The single-image demo: command line, snapshot, people, network, outputs (docs/demo.md).

``run_demo(argv)`` is the whole demo (``demo/demo.py`` calls :func:`main`).  Units: every output mesh is in metres,
camera space with OpenCV axes (x right, y down, z forward); the hand model's millimetre param mesh is converted.
Images are RGB until encoded as BGR JPEGs (the original's demo swapped red and blue).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from common.checkpoint import CheckpointInfo, inspect_checkpoint, load_checkpoint_file, load_network
from common.config import STAGES, parse_gpu_ids
from common.errors import run_reporting_user_errors
from common.nets.inference import prepare_inference
from common.nets.precision import autocast_context
from common.utils.human_models import build_human_model
from common.utils.preprocessing import generate_patch_image, load_img, to_input_tensor
from common.utils.vis import MeshRenderer
from main.cli import add_config_arguments, add_debug_argument, config_from_args, wants_debug
from main.networks import build_model_from_config
from main.predictor.errors import DemoError
from main.predictor.outputs import check_out_dir, make_output_files, map_person_outputs, write_outputs
from main.predictor.people import DEMO_DIR, resolve_people

VIRTUAL_FOCAL = (1500.0, 1500.0)  # the original's virtual camera, pixels


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="I2L-MeshNet demo on one image (body or hand, from the snapshot).")
    parser.add_argument("--gpu", type=str, default=None, help="GPU id, e.g. 0 (the first one is used); "
                        "without CUDA the demo runs on the CPU")
    parser.add_argument("--stage", choices=STAGES, default="param",
                        help="param: lixel and param outputs (the original's six files); lixel: lixel outputs only")
    parser.add_argument("--test_epoch", type=int, default=None, help="read snapshot_<N>.pth.tar from demo/")
    parser.add_argument("--model_path", type=Path, default=None, help="snapshot file (instead of --test_epoch)")
    parser.add_argument("--img", type=Path, default=DEMO_DIR / "input.jpg", help="input image (default demo/input.jpg)")
    parser.add_argument("--out_dir", type=Path, default=Path("."), help="output folder (default: working directory)")
    parser.add_argument("--bbox", type=float, nargs=4, action="append", metavar=("X", "Y", "W", "H"),
                        help="person (or hand) box in pixels, top-left corner and size; repeat for several people")
    parser.add_argument("--bbox_json", type=Path, default=None,
                        help="COCO-style detections: a list of {'bbox': [x, y, w, h], 'score'?, 'category_id'?}")
    parser.add_argument("--focal", type=float, nargs=2, default=None, metavar=("FX", "FY"),
                        help=f"focal length in pixels (default: the virtual camera {VIRTUAL_FOCAL})")
    parser.add_argument("--princpt", type=float, nargs=2, default=None, metavar=("CX", "CY"),
                        help="principal point in pixels (default: the image centre)")
    parser.add_argument("--root_depth", type=float, nargs="+", default=None,
                        help="root depth in metres, one value or one per box (default: estimated from the box)")
    parser.add_argument("--det_thresh", type=float, default=0.5,
                        help="minimum detector / --bbox_json score of a person (default 0.5)")
    parser.add_argument("--max_people", type=int, default=None, help="keep at most N detections (best first)")
    parser.add_argument("--detector_weights", type=Path, default=None,
                        help="Faster R-CNN state-dict file (default: torchvision's COCO_V1 file in the torch hub "
                             "cache)")
    parser.add_argument("--side_view", action="store_true", help="also write rendered_mesh_<stage>_side.jpg")
    parser.add_argument("--renderer", choices=("auto", "pyrender", "numpy"), default="auto",
                        help="auto: pyrender, or the NumPy rasteriser where OpenGL does not work")
    add_debug_argument(parser)
    add_config_arguments(parser)
    return parser


def _check_stage(info: CheckpointInfo, stage: str, path: Path) -> None:
    if stage != "param":
        return
    fix = ("run the demo with --stage lixel, or train the param stage first "
           "(cd main && python train.py --stage param --continue) and use its snapshot")
    if not info.has_param_regressor:
        raise DemoError(f"{path} has no param_regressor weights, which --stage param needs: {fix}")
    if info.stage == "lixel":
        raise DemoError(f"{path} is a lixel-stage snapshot ({info.stage_source} says so): its param_regressor "
                        f"weights are untrained, so --stage param would show a random mesh; {fix}")


def _device(gpu: str | None) -> torch.device:
    """The first ``--gpu`` id (default 0) when CUDA is available, else the CPU (said on the console)."""
    if torch.cuda.is_available():
        return torch.device("cuda", parse_gpu_ids(gpu)[0] if gpu else 0)
    print("CUDA is not available: running on the CPU" + (f" (--gpu {gpu} ignored)" if gpu else ""))
    return torch.device("cpu")


def _config(args: argparse.Namespace, info: CheckpointInfo):
    """The run's Config: the checkpoint's variant and ResNet depth, every other field from the flags."""
    extra = {}
    if info.is_hand and args.trainset_3d is None and args.trainset_2d is None and args.testset is None:
        extra = {"trainset_3d": ("FreiHAND",), "trainset_2d": (), "testset": "FreiHAND"}
    if args.resnet_type is None:
        extra["resnet_type"] = info.resnet_type
    try:
        cfg = config_from_args(args, **extra)
    except ValueError as exc:
        raise DemoError(str(exc)) from exc
    if cfg.is_hand != info.is_hand:
        want = "hand (MANO)" if info.is_hand else "body (SMPL)"
        raise DemoError(f"the snapshot is a {want} model but --trainset_3d/--trainset_2d/--testset select the "
                        f"{'hand' if cfg.is_hand else 'body'} variant; drop those flags (the demo reads the "
                        f"variant from the snapshot)")
    return cfg


def run_demo(argv: Sequence[str] | None = None) -> dict[str, Path]:
    """Run the demo with command-line arguments ``argv``; returns the written files (name -> path)."""
    args = build_parser().parse_args(None if argv is None else list(argv))
    timings: dict[str, float] = {}
    for flag, values in (("--focal", args.focal), ("--root_depth", args.root_depth)):
        if values is not None and not all(math.isfinite(v) and v > 0 for v in values):
            raise DemoError(f"{flag} {values}: must be positive ({'pixels' if flag == '--focal' else 'metres'})")
    if args.princpt is not None and not all(math.isfinite(v) for v in args.princpt):
        raise DemoError(f"--princpt {args.princpt}: must be finite pixel coordinates")
    if args.max_people is not None and args.max_people < 1:
        raise DemoError(f"--max_people {args.max_people}: must be at least 1")
    check_out_dir(args.out_dir)
    try:
        img = load_img(args.img)
    except (FileNotFoundError, OSError) as exc:
        raise DemoError(f"--img: {exc}; pass an existing JPEG/PNG image with --img PATH") from exc
    height, width = img.shape[:2]
    focal = tuple(args.focal) if args.focal else VIRTUAL_FOCAL
    princpt = tuple(args.princpt) if args.princpt else (width / 2.0, height / 2.0)

    if args.model_path is None and args.test_epoch is None:
        raise DemoError("no snapshot given: pass --test_epoch N (reads demo/snapshot_N.pth.tar) or --model_path FILE")
    model_path = args.model_path or DEMO_DIR / f"snapshot_{args.test_epoch}.pth.tar"
    start = time.perf_counter()
    ckpt = load_checkpoint_file(model_path)
    print(f"Load checkpoint from {model_path}")
    info = inspect_checkpoint(ckpt, model_path)
    _check_stage(info, args.stage, model_path)
    cfg = _config(args, info)
    timings["checkpoint read"] = time.perf_counter() - start
    device = _device(args.gpu)

    people = resolve_people(args, img, focal, info.is_hand, cfg.input_img_shape, device, timings)
    for k, p in enumerate(people):
        score = "" if p.score is None else f", score {p.score:.3f}"
        print(f"person {k}: box {np.round(p.bbox, 1).tolist()} ({p.source}{score}), processed box "
              f"{np.round(p.bbox_proc, 1).tolist()}, root depth {p.root_depth:.3f} m ({p.depth_source})")

    start = time.perf_counter()
    human_model = build_human_model(cfg.is_hand, cfg.human_model_dir)
    model = build_model_from_config(cfg, human_model)
    load_network(model, ckpt["network"], source=str(model_path))
    del ckpt
    model = model.to(device).eval()
    if not cfg.exact:  # BatchNorm folded into the convolutions, conv weights in the --amp dtype
        model = prepare_inference(model, cfg.amp)
    timings["network load"] = time.perf_counter() - start

    start = time.perf_counter()
    crops = torch.stack([to_input_tensor(generate_patch_image(img, p.bbox_proc, 1.0, 0.0, False,
                                                              cfg.input_img_shape)[0]) for p in people])
    with torch.inference_mode(), autocast_context(device, cfg.amp):
        out = model({"img": crops.to(device)}, {}, {}, "test")
    timings["network"] = time.perf_counter() - start

    root_weights = human_model.joint_regressor[human_model.root_joint_idx]
    unit = human_model.param_unit_per_m
    meshes = [map_person_outputs(
        out["mesh_coord_img"][k].float().cpu().numpy(), p.bb2img, p.root_depth, focal, princpt, root_weights,
        cfg.bbox_3d_size, out["mesh_coord_cam"][k].float().cpu().numpy() if args.stage == "param" else None,
        unit, cfg.input_img_shape, cfg.output_hm_shape) for k, p in enumerate(people)]

    start = time.perf_counter()
    stages = ("lixel",) if args.stage == "lixel" else ("lixel", "param")
    with MeshRenderer(args.renderer) as renderer:
        files = make_output_files(np.clip(np.round(img), 0, 255).astype(np.uint8), meshes, human_model.face,
                                  focal, princpt, stages, renderer, args.side_view)
        print(f"Rendered with: {renderer.name}")
    timings["rendering and drawing"] = time.perf_counter() - start
    written = write_outputs(args.out_dir, files)
    for name, path in written.items():
        print(f"wrote {path}")
    print("time (s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: run the demo; bad input prints a one-line error (exit status 1) unless ``--debug``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return run_reporting_user_errors(lambda: run_demo(argv), debug=wants_debug(argv))
