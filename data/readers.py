"""File readers shared by the dataset readers, with errors that name the file and say how to fix it: JSON, COCO
annotations, RootNet outputs (boxes and root depths for testing), joint regressors."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import UserError

__all__ = ["DatasetFileError", "require_file", "load_json", "load_coco", "coco_from_dict", "load_rootnet",
           "load_regressor", "RootNetOutput"]


class DatasetFileError(UserError, FileNotFoundError):
    """A dataset file is missing; the message names it and where to get it."""


def require_file(path: Path, hint: str) -> Path:
    """Return ``path`` if it is a file, else raise :class:`DatasetFileError` saying what to do (``hint``)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFileError(f"{path} not found: {hint}, or set --data_dir to the folder holding the datasets")
    return path


def load_json(path: Path, hint: str) -> Any:
    """Read a JSON file, with a clear error when it is missing (``hint``: where to get it) or malformed."""
    require_file(path, hint)
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e}); re-download it ({hint})") from e


def load_coco(path: Path, hint: str) -> Any:
    """``pycocotools.coco.COCO(path)`` (its progress lines are printed as usual) with a clear missing-file error."""
    from pycocotools.coco import COCO

    require_file(path, hint)
    return COCO(str(path))


def coco_from_dict(dataset: dict) -> Any:
    """A ``COCO`` index over an already loaded dict (prints pycocotools' ``creating index...`` lines)."""
    from pycocotools.coco import COCO

    db = COCO()
    db.dataset = dataset
    db.createIndex()
    return db


def load_rootnet(path: Path, key: str, unit: str, hint: str) -> list[dict]:
    """Read a RootNet output file: a list of dicts with ``key`` ('image_id' / 'ann_id'), ``bbox`` [x, y, w, h]
    (already aspect-fixed and extended, used as is) and ``root_cam`` [X, Y, Z] in ``unit`` ('mm' or 'm': the files
    differ and state no unit, docs/quirks.md#q-rootnet-depth-units).

    Validates every entry (the original would crash later, far from the cause): a missing key or a box without
    positive width/height raises ``ValueError`` naming the file and entry; a median root depth implausible for
    ``unit`` (< 50 for 'mm', > 50 for 'm') raises ``ValueError`` naming the unit mix-up. Returns the list.
    """
    entries = load_json(path, hint)
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON list of RootNet results, got {type(entries).__name__}")
    for n, entry in enumerate(entries):
        for k in (key, "bbox", "root_cam"):
            if k not in entry:
                raise ValueError(f"{path}: entry {n} has no '{k}' (keys: {sorted(entry)})")
        bbox = entry["bbox"]
        if len(bbox) != 4 or not (bbox[2] > 0 and bbox[3] > 0):
            raise ValueError(f"{path}: entry {n} ({key} {entry[key]}) has a degenerate bbox {bbox}; "
                             f"width and height must be positive")
    if entries:
        median_depth = float(np.median([float(e["root_cam"][2]) for e in entries]))
        if (unit == "mm" and median_depth < 50.0) or (unit == "m" and median_depth > 50.0):
            raise ValueError(f"{path}: median root depth {median_depth:g} is implausible for a file in {unit}; "
                             f"this reader expects root_cam in {unit}")
    return entries


def load_regressor(path: Path, num_rows: int, num_vertices: int, hint: str) -> np.ndarray:
    """Read a (num_rows, num_vertices) joint regressor ``.npy`` (e.g. ``J_regressor_h36m_correct.npy``) as float64,
    with clear errors when it is missing or has the wrong shape."""
    require_file(path, hint)
    regressor = np.load(path)
    if regressor.shape != (num_rows, num_vertices):
        raise ValueError(f"{path}: expected a ({num_rows}, {num_vertices}) regressor, got shape {regressor.shape}")
    return regressor.astype(np.float64)


class RootNetOutput:
    """A loaded RootNet file: ``entries`` in file order, and look-up by ``str(entry[key])`` (a later entry for the
    same key overwrites an earlier one, as in the original)."""

    def __init__(self, path: Path, key: str, entries: list[dict]) -> None:
        self.path = Path(path)
        self.key = key
        self.entries = entries
        self._index = {str(e[key]): e for e in entries}

    def box_root(self, key_value: Any) -> tuple[np.ndarray, float]:
        """(bbox (4,) float64 pixels, used as is; root depth ``root_cam[2]`` in the file's unit) of one sample.
        Raises ``KeyError`` naming the file when the sample has no entry."""
        entry = self._index.get(str(key_value))
        if entry is None:
            raise KeyError(f"{self.key} {key_value} has no entry in {self.path}; use a complete RootNet output file "
                           f"(or --use_gt_info where the test set supports it)")
        return np.asarray(entry["bbox"], dtype=np.float64), float(entry["root_cam"][2])
