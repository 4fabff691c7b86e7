"""Mini MSCOCO in the official layout (``annotations/person_keypoints_{train,val}2017.json``,
``annotations/coco_smplifyx_train.json``, ``images/{train,val}2017/``, RootNet output).

Each train image has its own virtual camera (stored with the SMPLify-X fit: pose/shape/trans in metres,
focal/princpt); val2017 images are rendered with the reader's virtual camera (focal 1500, principal point at the
image centre).  Keypoints are ``J_regressor_coco_hip_smpl`` applied to the mesh and projected, with visibility
from the depth buffer; segmentations and areas come from the rendered label map.  The first train image also
carries a crowd annotation and one without keypoints, which the reader must skip.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tools.synthetic.body_model_kit.skeleton import COCO_REGRESSOR_FILENAME

from .common import (
    cam_param_json,
    param_json,
    project,
    projected_box,
    rnd,
    rootnet_entry,
    sample_intrinsics,
    sizes,
    write_json,
    write_rootnet,
)
from .generator import Generator
from .scene import Person, make_camera_person

COCO_KEYPOINT_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                       "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
                       "left_knee", "right_knee", "left_ankle", "right_ankle")
COCO_SKELETON = ([16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
                 [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7])
_COCO_SHAPES = ((360, 480), (480, 360), (400, 480))  # (H, W)


def _coco_keypoints(gen: Generator, person: Person, focal, princpt, depth_buf: np.ndarray,
                    img_shape) -> np.ndarray:
    """17 x 3 COCO keypoints (x, y, v): v = 2 visible, 1 occluded (by the depth buffer)."""
    height, width = img_shape
    kps3d = gen.coco_reg @ person.verts
    px = project(kps3d, focal, princpt)
    out = np.zeros((17, 3))
    for k in range(17):
        u, v = px[k, :2]
        col, row = int(np.clip(np.round(u), 0, width - 1)), int(np.clip(np.round(v), 0, height - 1))
        occluded = depth_buf[row, col] < kps3d[k, 2] - 0.15
        out[k] = [u, v, 1 if occluded else 2]
    return out


def _coco_keypoint_list(kps: np.ndarray) -> list:
    """Flat [x1, y1, v1, ...]: coordinates as floats (3 decimals), visibility flags as ints (x = y = 0 when v = 0)."""
    out: list = []
    for x, y, v in kps:
        out += [round(float(x), 3), round(float(y), 3), int(v)] if v > 0 else [0, 0, 0]
    return out


def _coco_segmentation(mask: np.ndarray) -> list[list[float]]:
    """Polygons [x1, y1, x2, y2, ...] (pixels) of the outer contours of a boolean (H, W) mask."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for c in contours:
        if len(c) >= 3:
            polys.append([float(x) for x in c.reshape(-1)])
    return polys


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO uncompressed RLE (column-major run lengths starting with a background run)."""
    flat = np.asarray(mask, dtype=np.uint8).reshape(-1, order="F")
    counts = []
    current, run = 0, 0
    for value in flat:
        if value == current:
            run += 1
        else:
            counts.append(run)
            current, run = value, 1
    counts.append(run)
    return {"counts": counts, "size": [int(mask.shape[0]), int(mask.shape[1])]}


def _skipped_annotations(image_id: int, ann_id: int, img_shape: tuple[int, int]) -> list[dict]:
    """Two annotations the reader must skip: a crowd region (RLE) and a person without keypoints (polygon)."""
    height, width = img_shape
    x0, y0 = 2.0, 2.0
    crowd_mask = np.zeros((height, width), dtype=np.uint8, order="F")
    crowd_mask[int(y0):int(y0) + 20, int(x0):int(x0) + 30] = 1
    crowd = {"segmentation": _uncompressed_rle(crowd_mask), "num_keypoints": 0, "area": 600.0, "iscrowd": 1,
             "keypoints": [0] * 51, "image_id": image_id, "bbox": [x0, y0, 30.0, 20.0], "category_id": 1,
             "id": ann_id}
    empty = {"segmentation": [[x0, y0 + 40, x0 + 12, y0 + 40, x0 + 12, y0 + 70, x0, y0 + 70]],
             "num_keypoints": 0, "area": 360.0, "iscrowd": 0, "keypoints": [0] * 51, "image_id": image_id,
             "bbox": [x0, y0 + 40, 12.0, 30.0], "category_id": 1, "id": ann_id + 1}
    return [crowd, empty]


def _camera(split: str, rng: np.random.Generator, img_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(focal, princpt) in pixels: random for train, the reader's fixed virtual camera for val2017."""
    if split == "train":
        return sample_intrinsics(rng, img_shape, (500, 1500), 0, 20)
    height, width = img_shape
    return np.array([1500.0, 1500.0]), np.array([width / 2, height / 2])


def _persons(gen: Generator, rng: np.random.Generator, k: int, focal, princpt, img_shape) -> list[Person]:
    """One person on even images; on odd ones two side by side (the right one with an out-of-range shape)."""
    if k % 2 == 0:
        return [make_camera_person(gen, rng, focal, princpt, img_shape, (0.5, 0.85), 4.0, big_shape=k % 3 == 2)]
    a = make_camera_person(gen, rng, focal, princpt, img_shape, (0.45, 0.7), 4.0, big_shape=False,
                           u_range=(0.0, 0.35))
    b = make_camera_person(gen, rng, focal, princpt, img_shape, (0.35, 0.6), 4.0, big_shape=True,
                           u_range=(0.65, 1.0))
    return [a, b]


def write_mscoco(gen: Generator, size: str, rng: np.random.Generator) -> Path:
    """Write ``MSCOCO/`` under the generator's data folder; returns that folder."""
    root = gen.data_dir / "MSCOCO"
    gen.copy_regressor(COCO_REGRESSOR_FILENAME, "MSCOCO")
    categories = [{"supercategory": "person", "id": 1, "name": "person", "keypoints": list(COCO_KEYPOINT_NAMES),
                   "skeleton": [list(s) for s in COCO_SKELETON]}]
    smplifyx: dict = {}
    rootnet = []
    ann_id = 500000
    for split in ("train", "val"):
        n_images = sizes(size, 3 if split == "train" else 2, 30 if split == "train" else 20,
                         1000 if split == "train" else 20)
        images, annotations = [], []
        for k in range(n_images):
            image_id = (100000 if split == "train" else 200000) + 17 * k + 3
            img_shape = _COCO_SHAPES[k % len(_COCO_SHAPES)]
            height, width = img_shape
            focal, princpt = _camera(split, rng, img_shape)
            persons = _persons(gen, rng, k, focal, princpt, img_shape)
            file_name = f"{image_id:012d}.jpg"
            ids = list(range(ann_id, ann_id + len(persons)))
            labels, depth = gen.render("MSCOCO", f"{split}2017/{file_name}", root / "images", image_id,
                                       gen.body_meshes(persons), ids, focal, princpt, img_shape, rng)
            images.append({"license": 1, "file_name": file_name, "height": height, "width": width, "id": image_id})
            for j, (aid, person) in enumerate(zip(ids, persons)):
                kps = _coco_keypoints(gen, person, focal, princpt, depth, img_shape)
                if k == 0 and split == "train":  # some unlabeled keypoints (v = 0, x = y = 0)
                    kps[[3, 4]] = 0.0
                bbox = projected_box(person.verts, focal, princpt)
                mask = labels == j + 1
                annotations.append({
                    "segmentation": _coco_segmentation(mask), "num_keypoints": int((kps[:, 2] > 0).sum()),
                    "area": float(mask.sum()), "iscrowd": 0, "keypoints": _coco_keypoint_list(kps),
                    "image_id": image_id, "bbox": rnd(bbox, 3), "category_id": 1, "id": aid})
                if split == "train" and not (k == 1 and j == 1):  # one train person has no SMPLify-X fit
                    smplifyx[str(aid)] = {"smpl_param": param_json(person.pose, person.shape, person.trans),
                                          "cam_param": cam_param_json(focal, princpt)}
                if split == "val":
                    rootnet.append(rootnet_entry("image_id", image_id, bbox, img_shape, person.joints[0] * 1000.0, 4))
            ann_id += len(persons)
            if split == "train" and k == 0:
                annotations.extend(_skipped_annotations(image_id, ann_id, img_shape))
                ann_id += 2
        write_json(root / "annotations" / f"person_keypoints_{split}2017.json", {
            "info": {"description": "synthetic COCO-style keypoints (I2L-MeshNet re-implementation tests)",
                     "version": "1.0", "year": 2017},
            "licenses": [{"id": 1, "name": "synthetic", "url": ""}],
            "images": images, "annotations": annotations, "categories": categories})
    write_json(root / "annotations" / "coco_smplifyx_train.json", smplifyx)
    write_rootnet(root, "coco", rootnet)
    gen.flush_masks("MSCOCO")
    return root
