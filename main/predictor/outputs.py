"""From network outputs to the single-image demo's files: image- and camera-space meshes, drawings, renderings and
OBJ files (docs/demo.md)."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from common.utils.transforms import cam2pixel, lixel_to_image, pixel2cam
from common.utils.vis import (
    SIDE_VIEW_BACKGROUND,
    MeshRenderer,
    draw_mesh_vertices,
    encode_jpg,
    mesh_obj_bytes,
    side_view,
)
from main.predictor.errors import DemoError
from main.predictor.hands import mirror_points_img


@dataclass
class PersonMesh:
    """One person's meshes: ``lixel_img`` (V, 3) x, y image pixels and z metres relative to the root;
    ``lixel_cam``, ``param_cam`` (V, 3) camera space, metres (param None in the lixel stage); ``root_cam`` (3,) m."""

    lixel_img: np.ndarray
    lixel_cam: np.ndarray
    root_cam: np.ndarray
    param_cam: np.ndarray | None


def map_person_outputs(mesh_hm: np.ndarray, bb2img: np.ndarray, root_depth: float, focal: Sequence[float],
                       princpt: Sequence[float], root_weights: np.ndarray, bbox_3d_size: float,
                       mesh_cam_rel: np.ndarray | None = None, cam_unit_per_m: float = 1.0,
                       input_img_shape: tuple[int, int] = (256, 256),
                       output_hm_shape: tuple[int, int, int] = (64, 64, 64),
                       mirrored_width: int | None = None) -> PersonMesh:
    """Network outputs of one person -> image and camera space.

    ``mesh_hm``: (V, 3) lixel mesh, hm units; ``bb2img``: (2, 3) crop -> image affine; ``root_depth`` metres;
    ``root_weights``: (V,) regressor row of the root joint (SMPL J_regressor row 0 / MANO wrist);
    ``bbox_3d_size`` metres (2 body, 0.3 hand); ``mesh_cam_rel``: (V, 3) root-relative param mesh in the model's
    unit, ``cam_unit_per_m`` units per metre (1 SMPL, 1000 MANO).  The root's (x, y) comes from the lixel mesh.
    ``mirrored_width``: the image width when the crop was cut from the mirrored image (a left hand seen by the
    right-handed model): image x -> W - 1 - x and the param mesh x -> -x (docs/hands.md).
    """
    lixel_img = lixel_to_image(mesh_hm, bb2img, bbox_3d_size, input_img_shape, output_hm_shape).astype(np.float64)
    if mirrored_width is not None:
        lixel_img = mirror_points_img(lixel_img, mirrored_width)
    root_uv = np.asarray(root_weights, dtype=np.float64) @ lixel_img[:, :2]
    root_cam = pixel2cam(np.array([[root_uv[0], root_uv[1], root_depth]]), focal, princpt)[0]
    lixel_cam = pixel2cam(lixel_img + np.array([0.0, 0.0, root_depth]), focal, princpt)
    param_cam = None
    if mesh_cam_rel is not None:
        param_rel = np.asarray(mesh_cam_rel, dtype=np.float64) / cam_unit_per_m
        if mirrored_width is not None:
            param_rel = param_rel * np.array([-1.0, 1.0, 1.0])
        param_cam = param_rel + root_cam
    return PersonMesh(lixel_img=lixel_img, lixel_cam=lixel_cam, root_cam=root_cam, param_cam=param_cam)


def make_output_files(img: np.ndarray, meshes: Sequence[PersonMesh], faces: np.ndarray, focal: Sequence[float],
                      princpt: Sequence[float], stages: Sequence[str], renderer: MeshRenderer,
                      with_side_view: bool = False) -> dict[str, bytes]:
    """Encoded output files by name: per stage a vertex drawing and a rendering of all people
    (``output_mesh_<stage>.jpg``, ``rendered_mesh_<stage>.jpg``, optionally ``rendered_mesh_<stage>_side.jpg``) and
    one OBJ per person (``output_mesh_<stage>.obj``; ``output_mesh_<stage>_person<k>.obj`` for several people).
    ``img``: (H, W, 3) uint8 RGB."""
    files: dict[str, bytes] = {}
    for stage in stages:
        cams = [m.lixel_cam if stage == "lixel" else m.param_cam for m in meshes]
        drawn = [m.lixel_img[:, :2] for m in meshes] if stage == "lixel" else \
            [cam2pixel(c, focal, princpt)[:, :2] for c in cams]
        files[f"output_mesh_{stage}.jpg"] = encode_jpg(draw_mesh_vertices(img, drawn))
        scene = [(c, faces) for c in cams]
        files[f"rendered_mesh_{stage}.jpg"] = encode_jpg(renderer.render(scene, focal, princpt, img).image)
        if with_side_view:
            background = np.zeros_like(img) + np.array(SIDE_VIEW_BACKGROUND, dtype=np.uint8)
            files[f"rendered_mesh_{stage}_side.jpg"] = encode_jpg(
                renderer.render(side_view(scene), focal, princpt, background).image)
        for k, cam in enumerate(cams):
            name = f"output_mesh_{stage}.obj" if len(cams) == 1 else f"output_mesh_{stage}_person{k}.obj"
            files[name] = mesh_obj_bytes(cam, faces)
    return files


def check_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write_test.", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DemoError(f"output folder {out_dir.resolve()} cannot be written ({exc.strerror or exc}): choose "
                        f"another with --out_dir or fix its permissions") from exc
