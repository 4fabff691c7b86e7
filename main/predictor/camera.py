"""The demo's camera: focal length and principal point from the flags, a photo's EXIF tag or a field of view
(docs/media.md#camera).

Pixels throughout.  Without flags every input gets the original's virtual camera: focal (1500, 1500) and the image
centre (W/2, H/2) as principal point.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from main.predictor.errors import DemoError

VIRTUAL_FOCAL = (1500.0, 1500.0)  # the original's virtual camera, pixels
FILM_WIDTH_35MM = 36.0  # millimetres: the longer side of a 35 mm frame, which FocalLengthIn35mmFilm refers to
EXIF = "exif"


@dataclass
class Camera:
    """focal (fx, fy) and princpt (cx, cy) in pixels; source says where the focal came from ("default", "--focal",
    "exif" or "--fov")."""

    focal: tuple[float, float]
    princpt: tuple[float, float]
    source: str


def parse_focal_flag(values: list[str] | None) -> tuple[float, float] | str | None:
    """``--focal`` as given: None (absent), (fx, fy) from ``FX FY`` or one ``F``, or ``"exif"``."""
    if values is None:
        return None
    if len(values) == 1 and values[0].lower() == EXIF:
        return EXIF
    if len(values) not in (1, 2):
        raise DemoError(f"--focal {' '.join(values)}: expected FX FY, one F (pixels) or the word exif")
    try:
        focal = [float(v) for v in values]
    except ValueError as exc:
        raise DemoError(f"--focal {' '.join(values)}: expected FX FY, one F (pixels) or the word exif") from exc
    if not all(math.isfinite(f) and f > 0 for f in focal):
        raise DemoError(f"--focal {' '.join(values)}: focal lengths must be positive pixels")
    return (focal[0], focal[-1])


def focal_from_35mm(focal_35mm: float, width: int, height: int) -> float:
    """Pixels from a 35 mm equivalent focal (mm): f = f35 / 36 x the longer image side."""
    return focal_35mm / FILM_WIDTH_35MM * max(width, height)


def focal_from_fov(fov_deg: float, width: int, height: int) -> float:
    """Pixels from the field of view of the longer image side: f = (max(W, H) / 2) / tan(fov / 2)."""
    return max(width, height) / 2.0 / math.tan(math.radians(fov_deg) / 2.0)


def resolve_camera(focal_flag: tuple[float, float] | str | None, fov_deg: float | None,
                   princpt_flag: Sequence[float] | None, width: int, height: int, focal_35mm: float | None,
                   default_focal: tuple[float, float] = VIRTUAL_FOCAL) -> tuple[Camera, str | None]:
    """The camera of one (upright) image of ``width`` x ``height`` pixels, and a warning line or None.

    ``focal_flag`` from :func:`parse_focal_flag`; ``fov_deg`` from ``--fov`` (degrees, over the longer side);
    ``princpt_flag`` from ``--princpt`` (default the image centre); ``focal_35mm`` the photo's EXIF tag (None when
    absent, and for video frames).  ``--focal exif`` without the tag falls back to ``default_focal`` with a warning.
    """
    if focal_flag is not None and fov_deg is not None:
        raise DemoError("--focal and --fov both given: pass one of them (--fov sets the focal length)")
    if princpt_flag is not None:
        if len(princpt_flag) != 2 or not all(math.isfinite(v) for v in princpt_flag):
            raise DemoError(f"--princpt {list(princpt_flag)}: expected two finite pixel coordinates CX CY")
        princpt = (float(princpt_flag[0]), float(princpt_flag[1]))
    else:
        princpt = (width / 2.0, height / 2.0)
    warning = None
    if fov_deg is not None:
        if not (math.isfinite(fov_deg) and 0 < fov_deg < 180):
            raise DemoError(f"--fov {fov_deg}: must be a field of view in degrees, between 0 and 180 (exclusive)")
        f = focal_from_fov(fov_deg, width, height)
        focal, source = (f, f), "--fov"
    elif focal_flag == EXIF:
        if focal_35mm is not None and focal_35mm > 0:
            f = focal_from_35mm(focal_35mm, width, height)
            focal, source = (f, f), EXIF
        else:
            focal, source = (float(default_focal[0]), float(default_focal[1])), "default"
            warning = (f"--focal exif: no FocalLengthIn35mmFilm tag, so the default focal {focal[0]:g} x "
                       f"{focal[1]:g} pixels is used; pass --focal F or --fov DEG to set it")
    elif focal_flag is not None:
        focal, source = (float(focal_flag[0]), float(focal_flag[1])), "--focal"
    else:
        focal, source = (float(default_focal[0]), float(default_focal[1])), "default"
    return Camera(focal, princpt, source), warning
