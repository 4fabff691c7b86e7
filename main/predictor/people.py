"""Where the demo's people come from: given boxes, detection and keypoint files, the person detector or Keypoint
R-CNN for hands; and the root depth of a box (docs/demo.md#finding-people)."""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from common.config import ROOT_DIR
from common.utils.stopwatch import StageTimes
from main.predictor.detections_json import read_detections_json, read_keypoints_json
from main.predictor.errors import DemoError
from main.predictor.finders import (
    Candidate,
    CombinedFinder,
    DetectorFinder,
    Finder,
    FixedFinder,
    HandFinder,
    TableFinder,
    keypoints_from_detector,
    keypoints_from_table,
)
from main.predictor.inputs import InputSource, check_table_keys

DEMO_DIR = ROOT_DIR / "demo"
REAL_BOX_SIDE_M = {False: 2.0, True: 0.3}  # RootNet's 3D box side: 2 m x 2 m body, 0.3 m x 0.3 m hand


def estimate_root_depth(bbox_proc: Sequence[float], focal: Sequence[float], is_hand: bool) -> float:
    """RootNet's depth without its learned correction: sqrt(f_x f_y A_real / A_box), in metres.

    ``A_real`` = 2 m x 2 m (body) or 0.3 m x 0.3 m (hand).  ``A_box`` is the area in pixels of the *processed* box
    (aspect-fixed to a square and enlarged 1.25x, what the network sees) because RootNet computes its k-value from
    that same processed box; with the raw box the depth would come out 1.25x larger and aspect-dependent.
    """
    area = float(bbox_proc[2]) * float(bbox_proc[3])
    return math.sqrt(float(focal[0]) * float(focal[1]) * REAL_BOX_SIDE_M[is_hand] ** 2 / area)


def check_box(box: Sequence[float], width: int, height: int, name: str) -> np.ndarray:
    """``box`` (x, y, w, h) as float64, or a :class:`DemoError` naming it when it is not a box of the image."""
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (4,) or not np.isfinite(box).all():
        raise DemoError(f"{name}: expected 4 finite numbers x y w h, got {box.tolist()}")
    x, y, w, h = box
    if w <= 0 or h <= 0:
        raise DemoError(f"{name} {box.tolist()} has zero or negative size (w={w}, h={h}); give x y w h in pixels "
                        f"with positive width and height")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise DemoError(f"{name} {box.tolist()} lies outside the {width}x{height} image; boxes are x y w h in "
                        f"pixels, (x, y) the top-left corner")
    return box


def _person_detector(args: argparse.Namespace, device: torch.device, times: StageTimes):
    from common.detector import build_person_detector, detect_people  # noqa: PLC0415 - torchvision detection

    with times("detector load"):
        model = build_person_detector(args.detector_weights, args.det_thresh, device, name=args.detector)

    def detect(image: np.ndarray) -> list:
        with times("detect"):
            return [(np.asarray(d.bbox), d.score) for d in detect_people(model, image, args.det_thresh, device)]

    return detect


def _person_detector_for(args: argparse.Namespace, source: InputSource, device: torch.device, times: StageTimes):
    from common.detector import DetectorWeightsError  # noqa: PLC0415

    try:
        return _person_detector(args, device, times)
    except DetectorWeightsError as exc:
        if source.kind == "image" and source.path.resolve() == (DEMO_DIR / "input.jpg").resolve():
            raise DetectorWeightsError(f"{exc} (for the shipped example: --bbox_json "
                                       f"{DEMO_DIR / 'input_bbox.json'})") from exc
        raise


def _keypoint_detector(args: argparse.Namespace, device: torch.device, times: StageTimes):
    from common.detector import build_keypoint_detector, detect_keypoints  # noqa: PLC0415

    with times("detector load"):
        # the keypoint head runs on every kept detection, so --max_people is passed to the network itself
        model = build_keypoint_detector(args.keypoint_weights, args.det_thresh, device,
                                        max_people=args.max_people or 100)

    def detect(image: np.ndarray) -> list:
        with times("detect"):
            return detect_keypoints(model, image, args.det_thresh, device)

    return detect


def _keypoints(args: argparse.Namespace, source: InputSource, device: torch.device, times: StageTimes, every: int):
    if args.keypoints_json is not None:
        table = read_keypoints_json(args.keypoints_json, args.det_thresh)
        check_table_keys(table, source, "--keypoints_json", args.keypoints_json)
        return keypoints_from_table(table, single_image=source.kind == "image")
    return keypoints_from_detector(_keypoint_detector(args, device, times), every)


def make_finder(args: argparse.Namespace, source: InputSource, main_kind: str, with_hands: bool,
                device: torch.device, times: StageTimes, person_detect=None) -> Finder:
    """The finder of the run: bodies (body snapshot) and/or hands (hand snapshot, or ``--hand_model_path``).

    Boxes: ``--bbox`` (one image), then ``--bbox_json``; without them, bodies from the person detector (or, with
    hands, from the keypoint detections) and hands from body keypoints (``--keypoints_json`` or Keypoint R-CNN).
    Detection files are read and checked against the input here, before any network is built.  ``person_detect``
    (image -> [(bbox, score)]) replaces the person detector (benchmarks time a detector that way)."""
    is_hand = main_kind == "hand"
    given: list[Candidate] = []
    for k, box in enumerate(args.bbox or []):
        given.append(Candidate(main_kind, np.asarray(box, dtype=np.float64), None, True if is_hand else None,
                               f"--bbox #{k + 1}"))
    if given:
        finders: list[Finder] = [FixedFinder(given)]
    elif args.bbox_json is not None:
        table = read_detections_json(args.bbox_json, args.det_thresh, is_hand)
        check_table_keys(table, source, "--bbox_json", args.bbox_json)
        finders = [TableFinder(table, main_kind, "--bbox_json", single_image=source.kind == "image")]
    elif is_hand or with_hands:
        finders = []  # people come with their keypoints below (Keypoint R-CNN finds the bodies too)
    else:
        detect = person_detect or _person_detector_for(args, source, device, times)
        finders = [DetectorFinder(detect, args.detect_every, args.max_people)]
    if not finders or with_hands:
        # beside bodies that every frame has (given boxes, --bbox_json), the hands are looked for in every frame too:
        # only whole frames can be carried
        every = 1 if finders else args.detect_every
        finders.append(HandFinder(_keypoints(args, source, device, times, every), sides=args.hands,
                                  with_bodies=with_hands and not finders))
    return finders[0] if len(finders) == 1 else CombinedFinder(finders)


def check_image_people(candidates: list[Candidate], args: argparse.Namespace, path: Path, kinds: set[str]) -> None:
    """One image without anyone to run: a clear error before the network is built."""
    if any(c.kind in kinds for c in candidates):
        return
    if "hand" in kinds and "body" not in kinds:
        raise DemoError(f"no {'' if args.hands == 'both' else args.hands + ' '}hand found in {path} (--hands "
                        f"{args.hands}, --det_thresh {args.det_thresh}): give hand boxes with --bbox x y w h, "
                        f"keypoints with --keypoints_json, or lower --det_thresh")
    raise DemoError(f"no person found in {path} with score >= --det_thresh {args.det_thresh}: lower --det_thresh "
                    f"or give the boxes with --bbox x y w h or --bbox_json FILE")
