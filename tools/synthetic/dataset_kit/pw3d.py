"""Mini 3DPW in the layout of the converted files the reader uses (``data/3DPW_{train,validation,test}.json``,
``data/imageFiles/<sequence>/``, RootNet output for the test split).

Gendered SMPL bodies in the camera frame (the reader's ``layer[gender](pose, shape, trans)``), one or two per
sequence with a fixed shape each; boxes come from the projected joints (factor 1.2) like the conversion tool, and
``openpose_result`` holds the OpenPose COCO-18 keypoints.  Image and annotation ids continue across the splits.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common.utils.preprocessing import bbox_from_keypoints
from tools.synthetic.body_model_kit.skeleton import H36M_REGRESSOR_FILENAME

from .common import (
    cam_param_json,
    project,
    rnd,
    rootnet_entry,
    sample_intrinsics,
    sizes,
    write_json,
    write_rootnet,
)
from .generator import Generator
from .scene import Person, make_camera_person, sample_body_shape

_PW3D_SIZE = (480, 360)  # (H, W), portrait like 3DPW
# split -> ((sequence, persons, frames in the "test" size), ...)
_PW3D_SEQUENCES = {
    "train": (("courtyard_arguing_00", 2, 2),),
    "validation": (("courtyard_drinking_00", 1, 2),),
    "test": (("downtown_walking_00", 2, 2), ("office_phoneCall_00", 1, 2)),
}
# OpenPose COCO-18 order of 3DPW's poses2d, from SMPL kinematic joints ("j", idx) or mesh vertices ("v", idx)
_OPENPOSE_SOURCE = (("v", 331), ("j", 12), ("j", 17), ("j", 19), ("j", 21), ("j", 16), ("j", 18), ("j", 20),
                    ("j", 2), ("j", 5), ("j", 8), ("j", 1), ("j", 4), ("j", 7), ("v", 6262), ("v", 2802),
                    ("v", 3990), ("v", 3489))


def _annotation(rng: np.random.Generator, aid: int, image_id: int, pid: int, person: Person, focal,
                princpt) -> tuple[dict, np.ndarray]:
    """The annotation record of one person (joints in camera metres and pixels, box, OpenPose result, SMPL fit)
    and its unrounded [x, y, w, h] box."""
    height, width = _PW3D_SIZE
    joint_img = project(person.joints, focal, princpt)[:, :2]
    valid = ((joint_img[:, 0] >= 0) & (joint_img[:, 0] < width) & (joint_img[:, 1] >= 0)
             & (joint_img[:, 1] < height)).astype(np.float32)
    bbox = bbox_from_keypoints(joint_img, valid, 1.2)
    op = np.zeros((18, 3))
    for j, (kind, idx) in enumerate(_OPENPOSE_SOURCE):
        point = person.verts[idx] if kind == "v" else person.joints[idx]
        op[j, :2] = project(point[None], focal, princpt)[0, :2]
        op[j, 2] = rng.uniform(0.6, 0.95)
    return {
        "id": aid, "image_id": image_id, "person_id": pid,
        "joint_cam": rnd(person.joints, 6), "joint_img": rnd(joint_img, 4),
        "fitted_joint_cam": rnd(person.joints, 6), "openpose_result": rnd(op, 4),
        "bbox": rnd(bbox, 4),
        "smpl_param": {"shape": rnd(person.shape, 6), "pose": rnd(person.pose, 6),
                       "trans": rnd(person.trans, 6), "gender": person.gender}}, bbox


def write_pw3d(gen: Generator, size: str, rng: np.random.Generator) -> Path:
    """Write ``PW3D/`` under the generator's data folder; returns that folder."""
    root = gen.data_dir / "PW3D"
    data = root / "data"
    gen.copy_regressor(H36M_REGRESSOR_FILENAME, "Human36M")  # PW3D evaluation uses the H36M regressor from there
    height, width = _PW3D_SIZE
    image_id = 0
    ann_id = 0
    rootnet = []
    for split, sequences in _PW3D_SEQUENCES.items():
        images, annotations = [], []
        for sequence, n_persons, n_frames in sequences:
            n_frames = sizes(size, n_frames, 10 * n_frames, 10 * n_frames)
            focal, princpt = sample_intrinsics(rng, _PW3D_SIZE, (480, 520), 0, 5)
            genders = ["male", "female"] if n_persons == 2 else [("female", "male")[int(rng.integers(2))]]
            shapes = [sample_body_shape(rng, big=(p == 0 and sequence.startswith("downtown"))) for p in
                      range(n_persons)]
            frame_step = int(rng.integers(1, 4))
            for f in range(n_frames):
                frame_idx = f * frame_step
                persons = []
                for p in range(n_persons):
                    u_range = (0.0, 1.0) if n_persons == 1 else ((0.0, 0.25) if p == 0 else (0.75, 1.0))
                    depth = rng.uniform(3.2, 3.8) + 1.3 * p
                    persons.append(make_camera_person(gen, rng, focal, princpt, _PW3D_SIZE, (0.5, 0.8), 4.0,
                                                      big_shape=False, gender=genders[p], u_range=u_range,
                                                      depth=depth, shape=shapes[p]))
                file_name = f"image_{frame_idx:05d}.jpg"
                ids = list(range(ann_id, ann_id + n_persons))
                gen.render("PW3D", f"{sequence}/{file_name}", data / "imageFiles", image_id,
                           gen.body_meshes(persons), ids, focal, princpt, _PW3D_SIZE, rng)
                images.append({"id": image_id, "file_name": file_name, "sequence": sequence,
                               "frame_idx": frame_idx, "width": width, "height": height,
                               "cam_param": cam_param_json(focal, princpt)})
                for pid, (aid, person) in enumerate(zip(ids, persons)):
                    ann, bbox = _annotation(rng, aid, image_id, pid, person, focal, princpt)
                    annotations.append(ann)
                    if split == "test":
                        rootnet.append(rootnet_entry("ann_id", aid, bbox, _PW3D_SIZE, person.joints[0], 6))
                ann_id += n_persons
                image_id += 1
        write_json(data / f"3DPW_{split}.json", {"images": images, "annotations": annotations})
    write_rootnet(root, "pw3d", rootnet)
    gen.flush_masks("PW3D")
    return root
