"""Mini FreiHAND in the layout of the converted files the reader uses (``data/freihand_{train,eval}_{coco,data}.json``,
``data/{training,evaluation}/rgb/``, RootNet output for the evaluation split).

One MANO right hand per image, in the camera frame.  The evaluation ground truth is also written in the official
scorer's style (``evaluation_xyz.json``, ``evaluation_verts.json``, metres).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import (
    cam_param_json,
    free_range,
    inside,
    param_json,
    project,
    projected_box,
    rnd,
    rootnet_entry,
    rq,
    sample_intrinsics,
    sizes,
    write_json,
    write_rootnet,
)
from .generator import Generator
from .scene import sample_hand

_FREIHAND_SIZE = (224, 224)


def _make_hand(gen: Generator, rng: np.random.Generator, focal, princpt) -> tuple[np.ndarray, ...]:
    """A hand fully inside the image: rounded pose (48,), shape (10,), trans (3,) and its vertices (778, 3) and
    joints (21, 3), camera frame, metres."""
    height, width = _FREIHAND_SIZE
    margin = 6.0
    for _attempt in range(50):
        pose, shape = sample_hand(rng)
        pose, shape = rq(pose, 6), rq(shape, 6)
        verts0, _ = gen.hand(pose, shape, np.zeros(3))
        extent = np.linalg.norm(verts0.max(0) - verts0.min(0))
        depth = float(focal[1] * extent / (rng.uniform(0.55, 0.8) * height))
        for _ in range(10):
            base = np.array([0.0, 0.0, depth]) - verts0.mean(0)
            lo_u, hi_u, lo_v, hi_v = free_range(project(verts0 + base, focal, princpt), width, height, margin)
            if lo_u <= hi_u and lo_v <= hi_v and (verts0 + base)[:, 2].min() > 0.1:
                du, dv = rng.uniform(lo_u, hi_u), rng.uniform(lo_v, hi_v)
                trans = rq(base + np.array([du / focal[0] * depth, dv / focal[1] * depth, 0.0]), 6)
                verts, joints = gen.hand(pose, shape, trans)
                if inside(project(verts, focal, princpt), width, height, margin):
                    return pose, shape, trans, verts, joints
            depth *= 1.1
    raise RuntimeError("FreiHAND: could not place the hand inside the image")


def write_freihand(gen: Generator, size: str, rng: np.random.Generator) -> Path:
    """Write ``FreiHAND/`` under the generator's data folder; returns that folder."""
    root = gen.data_dir / "FreiHAND"
    data = root / "data"
    height, width = _FREIHAND_SIZE
    faces = gen.mano.face
    ann_id = 0
    image_id = 0
    rootnet, eval_xyz, eval_verts = [], [], []
    for split, folder in (("train", "training"), ("eval", "evaluation")):
        n = sizes(size, 6 if split == "train" else 4, 60 if split == "train" else 40)
        images, annotations, db = [], [], {}
        for db_idx in range(n):
            focal, princpt = sample_intrinsics(rng, _FREIHAND_SIZE, (450, 650), 1, 4)
            pose, shape, trans, verts, joints = _make_hand(gen, rng, focal, princpt)
            file_name = f"{folder}/rgb/{db_idx:08d}.jpg"
            gen.render("FreiHAND", file_name, data, image_id, [(verts, faces, gen.hand_colour(rng))], [ann_id],
                       focal, princpt, _FREIHAND_SIZE, rng)
            bbox = projected_box(verts, focal, princpt)
            images.append({"id": image_id, "file_name": file_name, "width": width, "height": height,
                           "db_idx": db_idx})
            annotations.append({"id": ann_id, "image_id": image_id, "bbox": rnd(bbox, 4)})
            cam_param = cam_param_json(focal, princpt)
            if split == "train":
                db[str(db_idx)] = {"cam_param": cam_param, "mano_param": param_json(pose, shape, trans),
                                   "joint_3d": rnd(joints, 6)}
            else:
                scale = float(np.linalg.norm(joints[10] - joints[9]))  # middle-finger MCP -> PIP bone, metres
                db[str(db_idx)] = {"cam_param": cam_param, "scale": round(scale, 6)}
                rootnet.append(rootnet_entry("image_id", image_id, bbox, _FREIHAND_SIZE, joints[0], 6))
                eval_xyz.append(rnd(joints, 6))
                eval_verts.append(rnd(verts, 6))
            ann_id += 1
            image_id += 1
        write_json(data / f"freihand_{split}_coco.json", {"images": images, "annotations": annotations})
        write_json(data / f"freihand_{split}_data.json", db)
    write_json(data / "evaluation_xyz.json", eval_xyz)
    write_json(data / "evaluation_verts.json", eval_verts)
    write_rootnet(root, "freihand", rootnet)
    gen.flush_masks("FreiHAND")
    return root
