"""Detections given as files, per frame: COCO detection results (--bbox_json) and COCO keypoint results
(--keypoints_json).

Both files are a JSON list of objects (one object alone is read as a list of one).  Each object's ``image_id`` says
which frame it belongs to: the tables returned are keyed by ``image_id`` as written (an int, or a str such as a file
name; None where an entry has none), and the caller maps keys to its frames (:func:`entries_for_single_image` for
one image, where ``image_id`` is ignored).  Entries scoring below ``det_thresh`` are dropped.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from common.detector import COCO_PERSON, KeypointDetection
from main.predictor.errors import DemoError

__all__ = ["BoxEntry", "FrameKey", "entries_for_single_image", "read_detections_json", "read_keypoints_json"]

FrameKey = int | str | None
BoxEntry = tuple[np.ndarray, float | None]  # (bbox (4,) float64 x y w h pixels, score or None)
NUM_KEYPOINTS = 17


def _read_entries(path: Path, flag: str, required: str, form: str) -> list[dict]:
    """The file's list of objects, each holding ``required``; DemoError naming ``flag`` and the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DemoError(f"{flag} {path}: file not found")
    try:
        entries = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DemoError(f"{flag} {path}: cannot be read as JSON ({exc})") from exc
    entries = [entries] if isinstance(entries, dict) else entries
    if not isinstance(entries, list) or not all(isinstance(e, dict) and required in e for e in entries):
        raise DemoError(f"{flag} {path}: expected a list of objects each with {form}")
    return entries


def _numbers(value: object, count: int) -> np.ndarray:
    """``value`` as ``count`` finite float64 numbers; ValueError otherwise (booleans and strings included)."""
    if not isinstance(value, (list, tuple)) or len(value) != count:
        raise ValueError(f"expected a list of {count} numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise ValueError(f"expected {count} finite numbers")
    return np.asarray(value, dtype=np.float64)


def _common_fields(entry: dict) -> tuple[FrameKey, float | None, int]:
    """(image_id, score or None, category_id) of one entry; ValueError naming the bad field."""
    key = entry.get("image_id")
    if isinstance(key, float) and key.is_integer():
        key = int(key)
    if key is not None and (isinstance(key, bool) or not isinstance(key, (int, str))):
        raise ValueError(f"'image_id' must be a frame index or a file name, got {key!r}")
    score = entry.get("score")
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise ValueError(f"'score' must be a number, got {score!r}")
        score = float(score)
    category = entry.get("category_id", COCO_PERSON)
    if isinstance(category, bool) or not isinstance(category, int):
        raise ValueError(f"'category_id' must be an integer, got {category!r}")
    return key, score, category


def _box(value: object) -> np.ndarray:
    try:
        box = _numbers(value, 4)
    except ValueError as exc:
        raise ValueError(f"'bbox' must be 4 numbers x y w h ({exc}), got {value!r}") from exc
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"'bbox' {box.tolist()} has zero or negative size; give x y w h in pixels")
    return box


def read_detections_json(path: Path, det_thresh: float, is_hand: bool) -> dict[FrameKey, list[BoxEntry]]:
    """Boxes of a COCO detection-results file: ``[{"image_id", "bbox": [x, y, w, h], "score", "category_id"}]``.

    Returns image_id -> [(bbox (4,) float64 pixels, score or None)] in file order.  Kept: score >= ``det_thresh``
    (when given) and, for the body (``is_hand`` false), category_id 1 (person; the default when absent).  A DemoError
    names the file and the entry (from 1) for malformed input, and says so when no box is kept at all.
    """
    flag = "--bbox_json"
    table: dict[FrameKey, list[BoxEntry]] = {}
    for i, entry in enumerate(_read_entries(path, flag, "bbox", "a 'bbox': [x, y, w, h]")):
        try:
            key, score, category = _common_fields(entry)
            box = _box(entry["bbox"])
        except ValueError as exc:
            raise DemoError(f"{flag} {path}, entry {i + 1}: {exc}") from exc
        if (score is not None and score < det_thresh) or (not is_hand and category != COCO_PERSON):
            continue
        table.setdefault(key, []).append((box, score))
    if not table:
        raise DemoError(f"{flag} {path}: no box with score >= --det_thresh {det_thresh}"
                        + ("" if is_hand else " and category_id 1 (person)"))
    return table


def read_keypoints_json(path: Path, det_thresh: float) -> dict[FrameKey, list[KeypointDetection]]:
    """People of a COCO keypoint-results file: ``[{"image_id", "keypoints": [x1, y1, v1, ..., x17, y17, v17],
    "score", "category_id"?, "bbox"?}]``, keypoints in COCO order and in pixels.

    Returns image_id -> [KeypointDetection] in file order.  The third value of each keypoint is kept as given (a
    score in [0, 1], or COCO's visibility 0 / 1 / 2).  A missing ``score`` reads as 1; a missing ``bbox`` is the
    extent of the keypoints with a positive third value.  Kept: score >= ``det_thresh`` and category_id 1 (the
    default).  DemoError names the file and the entry (from 1) for malformed input, or when nobody is kept.
    """
    flag = "--keypoints_json"
    table: dict[FrameKey, list[KeypointDetection]] = {}
    form = f"'keypoints': [x1, y1, v1, ..., x{NUM_KEYPOINTS}, y{NUM_KEYPOINTS}, v{NUM_KEYPOINTS}]"
    for i, entry in enumerate(_read_entries(path, flag, "keypoints", form)):
        try:
            key, score, category = _common_fields(entry)
            try:
                keypoints = _numbers(entry["keypoints"], 3 * NUM_KEYPOINTS).reshape(NUM_KEYPOINTS, 3)
            except ValueError as exc:
                raise ValueError(f"'keypoints' must be {3 * NUM_KEYPOINTS} numbers, x y v for each of the "
                                 f"{NUM_KEYPOINTS} COCO keypoints ({exc})") from exc
            box = _box(entry["bbox"]) if entry.get("bbox") is not None else _keypoint_extent(keypoints)
        except ValueError as exc:
            raise DemoError(f"{flag} {path}, entry {i + 1}: {exc}") from exc
        score = 1.0 if score is None else score
        if score < det_thresh or category != COCO_PERSON:
            continue
        table.setdefault(key, []).append(KeypointDetection(tuple(float(v) for v in box), score, keypoints))
    if not table:
        raise DemoError(f"{flag} {path}: nobody with score >= --det_thresh {det_thresh} and category_id 1 (person)")
    return table


def _keypoint_extent(keypoints: np.ndarray) -> np.ndarray:
    """(x, y, w, h) of the keypoints with a positive third value (of all of them when none has one)."""
    points = keypoints[keypoints[:, 2] > 0, :2]
    points = points if len(points) else keypoints[:, :2]
    low, high = points.min(axis=0), points.max(axis=0)
    return np.array([low[0], low[1], high[0] - low[0], high[1] - low[1]])


def entries_for_single_image(table: dict[FrameKey, list]) -> list:
    """Every entry of a table, for a single image (whose ``image_id`` is ignored): grouped by ``image_id`` in the
    order the ids first appear in the file, each group in file order."""
    return [item for items in table.values() for item in items]
