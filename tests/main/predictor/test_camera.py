"""Tests for main/predictor/camera.py: --focal, --focal exif, --fov, --princpt (docs/media.md#camera).

Expected focals are checked against the geometry they stand for: a 35 mm equivalent lens sees the same angle over
36 mm that the image sees over its longer side, and a field of view puts the image edge at f tan(fov / 2).
"""
from __future__ import annotations

import math

import pytest

from main.predictor.camera import parse_focal_flag, resolve_camera
from main.predictor.errors import DemoError


def test_parse_focal_flag():
    assert parse_focal_flag(None) is None
    assert parse_focal_flag(["1000", "1200.5"]) == (1000.0, 1200.5)
    assert parse_focal_flag(["800"]) == (800.0, 800.0)
    assert parse_focal_flag(["EXIF"]) == "exif"
    for bad in (["abc"], ["1", "2", "3"], ["-5"], ["0", "10"], ["nan"], []):
        with pytest.raises(DemoError, match="--focal"):
            parse_focal_flag(bad)


def test_default_is_the_virtual_camera():
    camera, warning = resolve_camera(None, None, None, 640, 480, focal_35mm=26.0)
    assert (camera.focal, camera.princpt, camera.source, warning) == ((1500.0, 1500.0), (320.0, 240.0), "default",
                                                                      None)


def test_focal_and_princpt_flags():
    camera, warning = resolve_camera((900.0, 950.0), None, [300.5, 200.0], 640, 480, None)
    assert (camera.focal, camera.princpt, camera.source, warning) == ((900.0, 950.0), (300.5, 200.0), "--focal",
                                                                      None)
    with pytest.raises(DemoError, match="--princpt"):
        resolve_camera(None, None, [1.0, math.inf], 640, 480, None)


@pytest.mark.parametrize("width, height", [(4032, 3024), (3024, 4032)])
def test_exif_focal_keeps_the_35mm_angle(width, height):
    camera, warning = resolve_camera("exif", None, None, width, height, focal_35mm=26.0)
    assert warning is None and camera.source == "exif"
    assert camera.focal == pytest.approx((26.0 / 36.0 * 4032,) * 2)
    angle_35mm = 2 * math.atan(18.0 / 26.0)
    assert 2 * math.atan(max(width, height) / 2 / camera.focal[0]) == pytest.approx(angle_35mm)


def test_exif_without_tag_warns_and_uses_the_default():
    camera, warning = resolve_camera("exif", None, None, 640, 480, focal_35mm=None)
    assert camera.focal == (1500.0, 1500.0) and camera.source == "default"
    assert "FocalLengthIn35mmFilm" in warning and "--focal exif" in warning
    camera, _ = resolve_camera("exif", None, None, 640, 480, None, default_focal=(1000.0, 1100.0))
    assert camera.focal == (1000.0, 1100.0)


@pytest.mark.parametrize("fov, width, height, focal", [(90.0, 640, 480, 320.0), (90.0, 480, 640, 320.0),
                                                       (60.0, 640, 480, 320.0 * math.sqrt(3.0))])
def test_fov_focal(fov, width, height, focal):
    camera, warning = resolve_camera(None, fov, None, width, height, focal_35mm=50.0)
    assert warning is None and camera.source == "--fov"
    assert camera.focal == pytest.approx((focal, focal))
    assert camera.focal[0] * math.tan(math.radians(fov) / 2) == pytest.approx(max(width, height) / 2)


def test_fov_errors():
    with pytest.raises(DemoError, match="--focal and --fov"):
        resolve_camera((1000.0, 1000.0), 60.0, None, 640, 480, None)
    with pytest.raises(DemoError, match="--focal and --fov"):
        resolve_camera("exif", 60.0, None, 640, 480, None)
    for bad in (0.0, 180.0, -10.0, math.nan):
        with pytest.raises(DemoError, match="--fov"):
            resolve_camera(None, bad, None, 640, 480, None)
