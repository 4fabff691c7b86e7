"""State shared by the dataset writers: the body models and regressors, the SMPL / MANO forward passes, the
appearance of bodies and hands, and rendering images (with the optional label maps) over random backgrounds."""
from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from common.utils.human_models import MANO, SMPL
from common.utils.raster import render_meshes
from tools.synthetic.body_model_kit.skeleton import (
    COCO_REGRESSOR_FILENAME,
    H36M_REGRESSOR_FILENAME,
)

from .common import save_jpg, write_json
from .scene import Person

# Body part (skinning joint with the largest weight) -> colour group: 0 skin, 1 shirt, 2 trousers, 3 shoes
_SMPL_PART_GROUP = np.array([2, 2, 2, 1, 2, 2, 1, 3, 3, 1, 3, 3, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0])


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random textured (H, W, 3) uint8 RGB background (smooth colour field, stripes/checks, clutter, noise)."""
    low = rng.uniform(25, 230, size=(3, 3, 3)).astype(np.float32)
    img = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    mid = rng.normal(0, 18, size=(12, 12, 3)).astype(np.float32)
    img += cv2.resize(mid, (width, height), interpolation=cv2.INTER_LINEAR)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(8, 40)
    coord = (np.cos(angle) * xx + np.sin(angle) * yy) / period
    kind = rng.integers(3)
    if kind == 0:
        pattern = np.sign(np.sin(2 * np.pi * coord))
    elif kind == 1:
        coord2 = (-np.sin(angle) * xx + np.cos(angle) * yy) / period
        pattern = np.sign(np.sin(2 * np.pi * coord) * np.sin(2 * np.pi * coord2))
    else:
        pattern = np.sin(2 * np.pi * coord)
    img += (pattern[..., None] * rng.uniform(5, 25) * rng.uniform(0.3, 1.0, size=3)).astype(np.float32)
    canvas = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 8))):  # clutter
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            x1, y1 = x0 + int(rng.integers(10, width // 3)), y0 + int(rng.integers(10, height // 3))
            cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness=-1)
        else:
            cv2.circle(canvas, (x0, y0), int(rng.integers(5, min(width, height) // 6)), colour, thickness=-1)
    noise = rng.standard_normal(size=canvas.shape, dtype=np.float32) * 5.0
    return np.clip(canvas.astype(np.float32) + noise, 0, 255).astype(np.uint8)


class Generator:
    """Shared state: body models, regressors, output root, mask saving."""

    def __init__(self, data_dir: Path, model_dir: Path, save_masks: bool) -> None:
        self.data_dir = Path(data_dir)
        self.model_dir = Path(model_dir)
        self.save_masks = save_masks
        self._smpl: SMPL | None = None
        self._mano: MANO | None = None
        self._h36m_reg: np.ndarray | None = None
        self._coco_reg: np.ndarray | None = None
        self._parts: np.ndarray | None = None
        self._masks: dict[str, dict] = {}
        self._body_key: tuple | None = None
        self._body_val: tuple[np.ndarray, np.ndarray] | None = None

    # ---- models ----------------------------------------------------------------------------------------------
    @property
    def smpl(self) -> SMPL:
        if self._smpl is None:
            self._smpl = SMPL(self.model_dir)
        return self._smpl

    @property
    def mano(self) -> MANO:
        if self._mano is None:
            self._mano = MANO(self.model_dir)
        return self._mano

    def regressor_path(self, name: str) -> Path:
        """Path of the body regressor file ``name`` in the model folder (error with a hint when missing)."""
        path = self.model_dir / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: the model folder must hold the body regressors too "
                f"(python -m tools.synthetic.body_models --out {self.model_dir} writes them)")
        return path

    @property
    def h36m_reg(self) -> np.ndarray:
        """The Human3.6M joint regressor (17, 6890), float64."""
        if self._h36m_reg is None:
            self._h36m_reg = np.load(self.regressor_path(H36M_REGRESSOR_FILENAME)).astype(np.float64)
        return self._h36m_reg

    @property
    def coco_reg(self) -> np.ndarray:
        """The COCO joint regressor (17, 6890), float64."""
        if self._coco_reg is None:
            self._coco_reg = np.load(self.regressor_path(COCO_REGRESSOR_FILENAME)).astype(np.float64)
        return self._coco_reg

    def copy_regressor(self, name: str, dataset: str) -> None:
        """Copy the regressor file ``name`` into the dataset folder, where its reader expects it."""
        dst = self.data_dir / dataset / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.regressor_path(name), dst)

    def body(self, pose, shape, trans=None, gender: str = "neutral") -> tuple[np.ndarray, np.ndarray]:
        """SMPL(pose, shape, trans) -> vertices (6890, 3), kinematic joints (24, 3), metres, float64.

        The layer adds ``trans`` to every vertex and joint, so the untranslated result is cached and shifted.
        """
        pose = np.asarray(pose, dtype=np.float32).reshape(1, 72)
        shape = np.asarray(shape, dtype=np.float32).reshape(1, 10)
        key = (pose.tobytes(), shape.tobytes(), gender)
        if key != self._body_key:
            with torch.no_grad():
                verts, joints = self.smpl.forward(torch.as_tensor(pose), torch.as_tensor(shape), None, gender=gender)
            self._body_key, self._body_val = key, (verts[0].double().numpy(), joints[0].double().numpy())
        verts, joints = self._body_val
        if trans is None:
            return verts.copy(), joints.copy()
        trans = np.asarray(trans, dtype=np.float64).reshape(1, 3)
        return verts + trans, joints + trans

    def hand(self, pose, shape, trans) -> tuple[np.ndarray, np.ndarray]:
        """MANO(pose, shape, trans) -> vertices (778, 3), joints (21, 3), **metres**, float64."""
        with torch.no_grad():
            verts, joints = self.mano.forward(
                torch.as_tensor(np.asarray(pose, dtype=np.float32).reshape(1, 48)),
                torch.as_tensor(np.asarray(shape, dtype=np.float32).reshape(1, 10)),
                torch.as_tensor(np.asarray(trans, dtype=np.float32).reshape(1, 3)))
        return verts[0].double().numpy() / 1000.0, joints[0].double().numpy() / 1000.0

    # ---- appearance --------------------------------------------------------------------------------------------
    def body_colours(self, rng: np.random.Generator) -> np.ndarray:
        """Per-vertex RGB colours (6890, 3): skin, shirt, trousers, shoes by skinning part."""
        if self._parts is None:
            weights = np.asarray(self.smpl.model_data("neutral")["weights"])
            self._parts = _SMPL_PART_GROUP[np.argmax(weights, axis=1)]
        skin = np.array([225, 180, 150]) * rng.uniform(0.55, 1.05)
        shirt = rng.uniform(30, 235, size=3)
        trousers = rng.uniform(20, 200, size=3)
        shoes = rng.uniform(10, 90, size=3)
        palette = np.stack([skin, shirt, trousers, shoes])
        return np.clip(palette[self._parts], 0, 255)

    @staticmethod
    def hand_colour(rng: np.random.Generator) -> np.ndarray:
        """One RGB skin colour (3,) for a hand."""
        return np.clip(np.array([230, 185, 155]) * rng.uniform(0.5, 1.05) + rng.normal(0, 8, 3), 0, 255)

    def body_meshes(self, persons: Sequence[Person]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(vertices, SMPL faces, colours) of each person, in drawing order (label k + 1 = ``persons[k]``)."""
        return [(p.verts, self.smpl.face, p.colour) for p in persons]

    # ---- output ------------------------------------------------------------------------------------------------
    def render(self, dataset: str, rel_path: str, image_root: Path, image_id: int,
               meshes: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], ann_ids: Sequence[int],
               focal, princpt, img_shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Render ``meshes`` over a random background, save the JPEG (and the label map).

        Returns the (H, W) uint8 label map (0 background, k + 1 mesh k) and the (H, W) depth buffer (metres).
        """
        image, labels, depth = render_meshes(meshes, focal, princpt, img_shape, background(rng, *img_shape))
        save_jpg(image_root / rel_path, image)
        if self.save_masks:
            mask_rel = str(Path(rel_path).with_suffix(".png"))
            mask_path = self.data_dir / dataset / "synthetic_masks" / mask_rel
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(mask_path), labels)
            index = self._masks.setdefault(dataset, {})
            index[str(image_id)] = {"file": mask_rel, "image": rel_path,
                                    "labels": {str(a): k + 1 for k, a in enumerate(ann_ids)}}
        return labels, depth

    def flush_masks(self, dataset: str) -> None:
        """Write the dataset's ``synthetic_masks/index.json`` (when masks are saved)."""
        if self.save_masks:
            write_json(self.data_dir / dataset / "synthetic_masks" / "index.json", self._masks.get(dataset, {}))
