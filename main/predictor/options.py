"""The demo's command line: inputs, people, tracking, smoothing, camera and outputs (docs/demo.md#flags).

The flags are checked here, before anything is read or built, so a wrong flag costs nothing.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from common.config import STAGES
from main.cli import add_config_arguments, add_debug_argument
from main.predictor.camera import VIRTUAL_FOCAL, parse_focal_flag
from main.predictor.errors import DemoError
from main.predictor.people import DEMO_DIR
from main.predictor.pipeline import SmoothOptions, TrackOptions
from main.predictor.smoothing import DEFAULT_BETA, DEFAULT_MIN_CUTOFF
from main.predictor.tracking import DEFAULT_IOU_THRESH, DEFAULT_MAX_MISSED

MESH_FORMATS = ("obj", "ply", "glb")
HAND_SIDES = ("right", "left", "both")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="I2L-MeshNet demo: an image, a folder of images or a video (body "
                                                 "or hand, from the snapshot).")
    parser.add_argument("--gpu", type=str, default=None, help="GPU id, e.g. 0 (the first one is used); "
                        "without CUDA the demo runs on the CPU")
    parser.add_argument("--stage", choices=STAGES, default="param",
                        help="param: lixel and param outputs (the original's six files); lixel: lixel outputs only")
    parser.add_argument("--test_epoch", type=int, default=None, help="read snapshot_<N>.pth.tar from demo/")
    parser.add_argument("--model_path", type=Path, default=None, help="snapshot file (instead of --test_epoch)")
    parser.add_argument("--hand_model_path", type=Path, default=None,
                        help="a hand snapshot beside a body snapshot: every person's body and hands")
    inputs = parser.add_argument_group("input (one of)")
    inputs.add_argument("--img", type=Path, default=None, help="an image (default demo/input.jpg)")
    inputs.add_argument("--img_dir", type=Path, default=None, help="the images of a folder, in name order")
    inputs.add_argument("--video", type=Path, default=None, help="a video file")
    inputs.add_argument("--start", type=int, default=0, help="video: first frame index (from 0)")
    inputs.add_argument("--end", type=int, default=None, help="video: stop before this frame index")
    inputs.add_argument("--stride", type=int, default=1, help="video: process every N-th frame")
    parser.add_argument("--out_dir", type=Path, default=Path("."), help="output folder (default: working directory)")
    people = parser.add_argument_group("people and hands")
    people.add_argument("--bbox", type=float, nargs=4, action="append", metavar=("X", "Y", "W", "H"),
                        help="--img only: person (or hand) box in pixels, top-left corner and size; repeatable")
    people.add_argument("--bbox_json", type=Path, default=None,
                        help="COCO detection results [{'image_id', 'bbox': [x, y, w, h], 'score', 'category_id'}]: "
                             "image_id = frame index (video), file name (folder), ignored (--img); the detector "
                             "does not run")
    people.add_argument("--keypoints_json", type=Path, default=None,
                        help="COCO keypoint results (17 keypoints) for the hand boxes; keyed as --bbox_json")
    people.add_argument("--hands", choices=HAND_SIDES, default="both", help="which hands to find (hand models)")
    people.add_argument("--det_thresh", type=float, default=0.5,
                        help="minimum detector / --bbox_json / --keypoints_json score (default 0.5)")
    people.add_argument("--max_people", type=int, default=None, help="keep at most N detections a frame")
    people.add_argument("--detector", default="fasterrcnn_resnet50_fpn",
                        help="person detector (docs/hands.md#detectors for the choices)")
    people.add_argument("--detector_weights", type=Path, default=None,
                        help="person detector state-dict file (default: torchvision's file in the torch hub cache)")
    people.add_argument("--keypoint_weights", type=Path, default=None,
                        help="Keypoint R-CNN state-dict file (default: torchvision's file in the torch hub cache)")
    people.add_argument("--detect_every", type=int, default=1,
                        help="videos: run the detector every N-th processed frame, carry the boxes in between")
    people.add_argument("--root_depth", type=float, nargs="+", default=None,
                        help="--img: root depth in metres, one value or one per box (default: from the box)")
    track = parser.add_argument_group("tracking and smoothing (videos)")
    track.add_argument("--iou_thresh", type=float, default=DEFAULT_IOU_THRESH,
                       help=f"minimum box overlap to continue a track (default {DEFAULT_IOU_THRESH})")
    track.add_argument("--max_missed", type=int, default=DEFAULT_MAX_MISSED,
                       help=f"frames a track survives without a box (default {DEFAULT_MAX_MISSED})")
    track.add_argument("--smooth", action="store_true", help="One-Euro smoothing per track")
    track.add_argument("--smooth_min_cutoff", type=float, default=DEFAULT_MIN_CUTOFF,
                       help=f"One-Euro minimum cutoff in Hz (default {DEFAULT_MIN_CUTOFF})")
    track.add_argument("--smooth_beta", type=float, default=DEFAULT_BETA,
                       help=f"One-Euro speed coefficient (default {DEFAULT_BETA})")
    camera = parser.add_argument_group("camera")
    camera.add_argument("--focal", nargs="+", default=None, metavar="F",
                        help=f"FX FY, one F (pixels) or 'exif' (default: the virtual camera {VIRTUAL_FOCAL})")
    camera.add_argument("--fov", type=float, default=None, help="field of view of the longer side, degrees")
    camera.add_argument("--princpt", type=float, nargs=2, default=None, metavar=("CX", "CY"),
                        help="principal point in pixels (default: the image centre)")
    outputs = parser.add_argument_group("outputs")
    outputs.add_argument("--save_mesh", action="store_true", help="write every person's mesh (--mesh_format)")
    outputs.add_argument("--mesh_format", choices=MESH_FORMATS, default="obj",
                         help="obj/ply: one file per person; glb: one scene per frame (default obj)")
    outputs.add_argument("--side_view", action="store_true", help="also render the meshes from the side")
    outputs.add_argument("--renderer", choices=("auto", "pyrender", "numpy"), default="auto",
                         help="auto: pyrender, or the NumPy rasteriser where OpenGL does not work")
    add_debug_argument(parser)
    add_config_arguments(parser)
    return parser


def input_kind(args: argparse.Namespace) -> str:
    """"image", "folder" or "video"; ``--img`` defaults to demo/input.jpg when no input is given."""
    given = [name for name in ("img", "img_dir", "video") if getattr(args, name) is not None]
    if len(given) > 1:
        raise DemoError(f"give one input: --{' and --'.join(given)} were both given")
    if not given:
        args.img = DEMO_DIR / "input.jpg"
        return "image"
    return {"img": "image", "img_dir": "folder", "video": "video"}[given[0]]


def check_args(args: argparse.Namespace, kind: str) -> None:
    """Flag values that are wrong whatever the input: a message naming the flag."""
    args.focal = parse_focal_flag(args.focal)
    if args.focal is not None and args.fov is not None:
        raise DemoError("--focal and --fov both set the focal length: give one")
    if args.fov is not None and not (0.0 < args.fov < 180.0):
        raise DemoError(f"--fov {args.fov}: must be between 0 and 180 degrees")
    if args.root_depth is not None and not all(math.isfinite(v) and v > 0 for v in args.root_depth):
        raise DemoError(f"--root_depth {args.root_depth}: must be positive (metres)")
    if args.princpt is not None and not all(math.isfinite(v) for v in args.princpt):
        raise DemoError(f"--princpt {args.princpt}: must be finite pixel coordinates")
    for flag, value, least in (("--max_people", args.max_people, 1), ("--detect_every", args.detect_every, 1),
                               ("--stride", args.stride, 1), ("--start", args.start, 0),
                               ("--max_missed", args.max_missed, 0)):
        if value is not None and value < least:
            raise DemoError(f"{flag} {value}: must be at least {least}")
    if args.end is not None and args.end <= args.start:
        raise DemoError(f"--end {args.end}: must be greater than --start {args.start}")
    if not 0.0 < args.iou_thresh <= 1.0:
        raise DemoError(f"--iou_thresh {args.iou_thresh}: must be in (0, 1]")
    if args.smooth_min_cutoff <= 0 or args.smooth_beta < 0:
        raise DemoError("--smooth_min_cutoff must be positive and --smooth_beta non-negative")
    if kind != "image":
        for flag, value in (("--bbox", args.bbox), ("--root_depth", args.root_depth)):
            if value is not None:
                raise DemoError(f"{flag} applies to one image (--img); for folders and videos give the boxes with "
                                f"--bbox_json (image_id = file name / frame index)")
    if kind != "video" and (args.start or args.end is not None or args.stride != 1):
        raise DemoError("--start, --end and --stride apply to --video")
    if kind != "video" and args.detect_every != 1:
        raise DemoError(f"--detect_every {args.detect_every} applies to --video: the photos of a folder are "
                        f"unrelated, so no box can be carried from one to the next")
    if args.model_path is None and args.test_epoch is None:
        raise DemoError("no snapshot given: pass --test_epoch N (reads demo/snapshot_N.pth.tar) or --model_path FILE")


def track_options(args: argparse.Namespace, kind: str) -> TrackOptions:
    return TrackOptions(enabled=kind == "video", iou_thresh=args.iou_thresh, max_missed=args.max_missed)


def smooth_options(args: argparse.Namespace) -> SmoothOptions:
    return SmoothOptions(enabled=args.smooth, min_cutoff=args.smooth_min_cutoff, beta=args.smooth_beta)
