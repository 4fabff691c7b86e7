"""Mini MuCo-3DHP in the official layout (``data/MuCo-3DHP.json``, ``data/smpl_param.json``, ``data/*_set/``).

Persons are in camera coordinates, one or two per image (a near and a farther one, in random file order).
``keypoints_cam`` (mm) come from ``J_regressor_h36m`` for the joints the H36M set has (Thorax = H36M Neck) and
from the SMPL kinematic joints for the others (Spine, Head, hands, toes).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tools.synthetic.body_model_kit.skeleton import H36M_REGRESSOR_FILENAME

from .common import (
    param_json,
    project,
    projected_box,
    rnd,
    sample_intrinsics,
    sizes,
    write_json,
)
from .generator import Generator
from .scene import Person, make_camera_person

MUCO_JOINTS = ("Head_top", "Thorax", "R_Shoulder", "R_Elbow", "R_Wrist", "L_Shoulder", "L_Elbow", "L_Wrist",
               "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Spine", "Head", "R_Hand",
               "L_Hand", "R_Toe", "L_Toe")
# MuCo joint -> ("h36m", row of J_regressor_h36m) or ("smpl", SMPL kinematic joint index)
_MUCO_SOURCE = {
    "Head_top": ("h36m", 10), "Thorax": ("h36m", 8), "R_Shoulder": ("h36m", 14), "R_Elbow": ("h36m", 15),
    "R_Wrist": ("h36m", 16), "L_Shoulder": ("h36m", 11), "L_Elbow": ("h36m", 12), "L_Wrist": ("h36m", 13),
    "R_Hip": ("h36m", 1), "R_Knee": ("h36m", 2), "R_Ankle": ("h36m", 3), "L_Hip": ("h36m", 4),
    "L_Knee": ("h36m", 5), "L_Ankle": ("h36m", 6), "Pelvis": ("h36m", 0), "Spine": ("smpl", 6),
    "Head": ("smpl", 15), "R_Hand": ("smpl", 23), "L_Hand": ("smpl", 22), "R_Toe": ("smpl", 11),
    "L_Toe": ("smpl", 10),
}
_MUCO_SIZE = (400, 400)


def _muco_joints(gen: Generator, person: Person) -> np.ndarray:
    """MuCo 21 joints (21, 3) of a body, camera frame, mm."""
    h36m = gen.h36m_reg @ person.verts
    out = np.zeros((21, 3))
    for i, name in enumerate(MUCO_JOINTS):
        src, idx = _MUCO_SOURCE[name]
        out[i] = h36m[idx] if src == "h36m" else person.joints[idx]
    return out * 1000.0


def _persons(gen: Generator, rng: np.random.Generator, image_id: int, focal: np.ndarray,
             princpt: np.ndarray) -> list[Person]:
    """One person on odd images; on even ones a near person on one side and a farther one on the other."""
    img_shape = _MUCO_SIZE
    if image_id % 2 == 1:
        return [make_camera_person(gen, rng, focal, princpt, img_shape, (0.55, 0.8), 5.0,
                                   big_shape=image_id % 4 == 1)]
    near_left = rng.random() < 0.5
    near = make_camera_person(gen, rng, focal, princpt, img_shape, (0.55, 0.75), 5.0,
                              big_shape=image_id % 4 == 2, u_range=(0.0, 0.3) if near_left else (0.7, 1.0))
    far_depth = near.joints[0, 2] + rng.uniform(1.2, 2.0)
    far = make_camera_person(gen, rng, focal, princpt, img_shape, (0.3, 0.5), 5.0, big_shape=False,
                             u_range=(0.7, 1.0) if near_left else (0.0, 0.3), depth=far_depth)
    return [far, near] if rng.random() < 0.5 else [near, far]  # file order is not depth order


def write_muco(gen: Generator, size: str, rng: np.random.Generator) -> Path:
    """Write ``MuCo/`` under the generator's data folder; returns that folder."""
    root = gen.data_dir / "MuCo"
    data = root / "data"
    gen.copy_regressor(H36M_REGRESSOR_FILENAME, "Human36M")  # the MuCo reader uses the H36M regressor from there
    height, width = _MUCO_SIZE
    n_images = sizes(size, 4, 40)
    images, annotations, smpl_params = [], [], {}
    ann_id = 0
    for image_id in range(n_images):
        focal, princpt = sample_intrinsics(rng, _MUCO_SIZE, (450, 600), 2, 8)
        persons = _persons(gen, rng, image_id, focal, princpt)
        folder = "augmented_set" if image_id < n_images - 1 else "unaugmented_set"
        file_name = f"{folder}/{image_id:06d}.jpg"
        ids = list(range(ann_id, ann_id + len(persons)))
        gen.render("MuCo", file_name, data, image_id, gen.body_meshes(persons), ids, focal, princpt,
                   (height, width), rng)
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height,
                       "f": rnd(focal, 4), "c": rnd(princpt, 4)})
        for aid, person in zip(ids, persons):
            kp_cam = _muco_joints(gen, person)
            kp_img = project(kp_cam, focal, princpt)[:, :2]
            bbox = projected_box(person.verts, focal, princpt)
            annotations.append({"id": aid, "image_id": image_id, "keypoints_cam": rnd(kp_cam, 4),
                                "keypoints_img": rnd(kp_img, 4), "bbox": rnd(bbox, 4)})
            if image_id != 1:  # the (single) person of image 1 has no SMPL fit
                smpl_params[str(aid)] = param_json(person.pose, person.shape, person.trans)
        ann_id += len(persons)
    write_json(data / "MuCo-3DHP.json", {"images": images, "annotations": annotations})
    write_json(data / "smpl_param.json", smpl_params)
    gen.flush_masks("MuCo")
    return root
