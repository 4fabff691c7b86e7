"""The people of a demo image: boxes (given, from a detections file or the person detector), their processed crops
and root depths (docs/demo.md)."""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from common.config import ROOT_DIR
from common.utils.preprocessing import get_affine_transforms, require_bbox
from main.predictor.errors import DemoError

DEMO_DIR = ROOT_DIR / "demo"
REAL_BOX_SIDE_M = {False: 2.0, True: 0.3}  # RootNet's 3D box side: 2 m x 2 m body, 0.3 m x 0.3 m hand


@dataclass
class Person:
    """One person: ``bbox`` raw (x, y, w, h) px; ``bbox_proc`` processed (square, x1.25); ``img2bb`` / ``bb2img``
    (2, 3) crop affines; ``root_depth`` metres; ``score`` (detector / json, None for --bbox); ``source`` text."""

    bbox: np.ndarray
    bbox_proc: np.ndarray
    img2bb: np.ndarray
    bb2img: np.ndarray
    root_depth: float
    depth_source: str
    score: float | None
    source: str


def estimate_root_depth(bbox_proc: Sequence[float], focal: Sequence[float], is_hand: bool) -> float:
    """RootNet's depth without its learned correction: sqrt(f_x f_y A_real / A_box), in metres.

    ``A_real`` = 2 m x 2 m (body) or 0.3 m x 0.3 m (hand).  ``A_box`` is the area in pixels of the *processed* box
    (aspect-fixed to a square and enlarged 1.25x, what the network sees) because RootNet computes its k-value from
    that same processed box; with the raw box the depth would come out 1.25x larger and aspect-dependent.
    """
    area = float(bbox_proc[2]) * float(bbox_proc[3])
    return math.sqrt(float(focal[0]) * float(focal[1]) * REAL_BOX_SIDE_M[is_hand] ** 2 / area)


def _check_box(box: Sequence[float], width: int, height: int, name: str) -> np.ndarray:
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


def read_bbox_json(path: Path, is_hand: bool, det_thresh: float) -> list[tuple[np.ndarray, float | None]]:
    """Boxes from a COCO-style detections file: a list of dicts with ``bbox`` [x, y, w, h] and optionally ``score``
    and ``category_id``.  Kept: score >= ``det_thresh`` (when given) and, for the body, category 1 (person)."""
    if not path.is_file():
        raise DemoError(f"--bbox_json {path}: file not found")
    try:
        entries = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DemoError(f"--bbox_json {path}: cannot be read as JSON ({exc})") from exc
    entries = [entries] if isinstance(entries, dict) else entries
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "bbox" in e for e in entries):
        raise DemoError(f"--bbox_json {path}: expected a list of objects each with a 'bbox': [x, y, w, h]")
    boxes = []
    for i, entry in enumerate(entries):
        try:
            score = None if entry.get("score") is None else float(entry["score"])
            box = np.asarray(entry["bbox"], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DemoError(f"--bbox_json {path}, entry {i + 1}: 'bbox' must be 4 numbers and 'score' a number "
                            f"({exc})") from exc
        if (score is not None and score < det_thresh) or (not is_hand and entry.get("category_id", 1) != 1):
            continue
        boxes.append((box, score))
    if not boxes:
        raise DemoError(f"--bbox_json {path}: no box with score >= --det_thresh {det_thresh}"
                        + ("" if is_hand else " and category_id 1 (person)"))
    return boxes


def crop_transforms(bbox_proc: np.ndarray, input_img_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(img2bb, bb2img) (2, 3) float32 of the test-time crop of a processed box (scale 1, no rotation or flip): the
    transforms :func:`generate_patch_image` uses, without warping the image."""
    x, y, w, h = (float(v) for v in bbox_proc)
    return get_affine_transforms(x + 0.5 * w, y + 0.5 * h, w, h, input_img_shape, 1.0, 0.0)


def _detect(args: argparse.Namespace, img: np.ndarray, device: torch.device, timings: dict) -> list:
    from common.detector import DetectorWeightsError, build_person_detector, detect_people  # noqa: PLC0415

    start = time.perf_counter()
    try:
        detector = build_person_detector(args.detector_weights, args.det_thresh, device)
    except DetectorWeightsError as exc:
        if Path(args.img).resolve() == (DEMO_DIR / "input.jpg").resolve():
            raise DetectorWeightsError(f"{exc} (for the shipped example: --bbox_json "
                                       f"{DEMO_DIR / 'input_bbox.json'})") from exc
        raise
    timings["detector load"] = time.perf_counter() - start
    start = time.perf_counter()
    found = detect_people(detector, img, args.det_thresh, device)
    timings["detector"] = time.perf_counter() - start
    if not found:
        raise DemoError(f"no person found in {args.img} with score >= --det_thresh {args.det_thresh}: lower "
                        f"--det_thresh or give the boxes with --bbox x y w h")
    return [(np.asarray(d.bbox), d.score) for d in found[:args.max_people]]


def resolve_people(args: argparse.Namespace, img: np.ndarray, focal: Sequence[float], is_hand: bool,
                   input_img_shape: tuple[int, int], device: torch.device, timings: dict) -> list[Person]:
    """Boxes from --bbox, then --bbox_json; without both, from the person detector.  Each box is processed, cropped
    (scale 1, no rotation or flip) and given a root depth (--root_depth, or :func:`estimate_root_depth`)."""
    height, width = img.shape[:2]
    raw = [(np.asarray(b, dtype=np.float64), None, f"--bbox #{i + 1}") for i, b in enumerate(args.bbox or [])]
    if args.bbox_json is not None:
        raw += [(b, s, f"--bbox_json entry {i + 1}")
                for i, (b, s) in enumerate(read_bbox_json(args.bbox_json, is_hand, args.det_thresh))]
    if not raw:
        if is_hand:
            raise DemoError("the hand model needs hand boxes: give them with --bbox x y w h or --bbox_json FILE "
                            "(the person detector finds bodies, not hands)")
        raw = [(b, s, f"detection {i + 1}") for i, (b, s) in enumerate(_detect(args, img, device, timings))]
    depths = args.root_depth
    if depths is not None and len(depths) not in (1, len(raw)):
        raise DemoError(f"--root_depth: {len(depths)} values for {len(raw)} boxes; give one value or one per box")
    people = []
    for k, (box, score, name) in enumerate(raw):
        box = _check_box(box, width, height, name)
        try:
            proc = require_bbox(box, width, height, input_img_shape[1] / input_img_shape[0])
        except ValueError as exc:
            raise DemoError(f"{name}: {exc}") from exc
        img2bb, bb2img = crop_transforms(proc, input_img_shape)
        if depths is not None:
            depth, how = float(depths[0] if len(depths) == 1 else depths[k]), "--root_depth"
        else:
            depth, how = estimate_root_depth(proc, focal, is_hand), "estimated from the box"
        people.append(Person(box, proc, img2bb, bb2img, depth, how, score, name))
    return people
