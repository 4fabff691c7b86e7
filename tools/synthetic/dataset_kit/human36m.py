"""Mini Human36M in the official layout (``annotations/Human36M_subject{S}_{data,camera,joint_3d,smpl_param}.json``,
``images/``, RootNet output for the test subjects).

The body is posed in the H36M *world* frame (z up, millimetres) and seen by four cameras per subject (world->camera
``R``, ``t`` mm, ``f``, ``c``).  ``smpl_param`` holds the world-frame root and world translation; the image shows
``R * SMPL(pose_world, shape, trans_world) + t``, which is what the reader rebuilds with its camera merge and
translation compensation.  ``joint_3d`` is ``J_regressor_h36m`` applied to the camera-space mesh of the frame's
(single kept) camera, mapped back to world coordinates, so the reader's ``joint_cam`` equals the regressed joints
exactly.  Frames the reader must drop are included too: frame numbers off its sampling step, a second camera of a
test frame, and one training frame without an SMPL fit.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common.utils.transforms import world2cam
from tools.synthetic.body_model_kit.skeleton import (
    H36M_JOINT_NAMES,
    H36M_REGRESSOR_FILENAME,
)

from .common import (
    inside,
    param_json,
    project,
    rnd,
    rootnet_entry,
    rot,
    rotvec,
    rq,
    sample_intrinsics,
    sizes,
    tight_box,
    write_json,
    write_rootnet,
)
from .generator import Generator
from .scene import sample_body_pose, sample_body_shape

H36M_JOINTS = H36M_JOINT_NAMES
_H36M_TRAIN = (1, 5, 6, 7, 8)
_H36M_TEST = (9, 11)
_H36M_SIZE = (400, 400)  # (H, W)


def _look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World->camera rotation of a camera at ``position`` looking at ``target`` (world z up; camera y down)."""
    forward = target - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def _h36m_plan(size: str, rng: np.random.Generator) -> dict[int, list[tuple[int, int, int, list[int]]]]:
    """Per subject: list of (action, subaction, frame_idx, cameras), the first camera being the one kept."""
    plan: dict[int, list] = {}
    for subject in _H36M_TRAIN + _H36M_TEST:
        is_test = subject in _H36M_TEST
        modulus = 64 if is_test else 5  # the reader keeps frames at multiples of its sampling step
        n_keep = sizes(size, 2 if (is_test or subject == 1) else 1, 12 if is_test else 8, 12 if is_test else 600)
        n_drop = sizes(size, 1 if subject in (1, 5, 9, 11) else 0, 3, 3)
        multiples = rng.choice(np.arange(0, max(40, 2 * n_keep)), size=n_keep, replace=False) * modulus
        others = []
        while len(others) < n_drop:
            f = int(rng.integers(1, 40 * modulus))
            if f % modulus and f not in others:
                others.append(f)
        frames = [(int(f), True) for f in sorted(multiples)] + [(f, False) for f in sorted(others)]
        items = []
        for k, (frame, keep) in enumerate(frames):
            action = int(rng.integers(2, 17))
            subaction = int(rng.integers(1, 3))
            if is_test:
                cams = [4]
                if keep and k == 0:
                    cams.append(int(rng.integers(1, 4)))  # same frame from another camera: filtered out
            else:
                cams = [int(rng.integers(1, 5))]
            items.append((action, subaction, frame, cams))
        plan[subject] = items
    return plan


def _h36m_cameras(rng: np.random.Generator) -> dict[int, dict[str, np.ndarray]]:
    """Four cameras around the capture area: ``R`` (3, 3) world->camera, ``t`` (3,) mm, ``f``, ``c`` (2,) px."""
    cams = {}
    for cam in range(1, 5):
        azimuth = np.deg2rad(45 + 90 * (cam - 1) + rng.uniform(-15, 15))
        dist = rng.uniform(4.2, 5.0)
        position = np.array([dist * np.cos(azimuth), dist * np.sin(azimuth), rng.uniform(1.2, 1.8)])
        target = np.array([rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2), rng.uniform(0.8, 1.0)])
        R = rq(_look_at(position, target), 8)
        t = rq(-R @ position * 1000.0, 4)
        focal, princpt = sample_intrinsics(rng, _H36M_SIZE, (540, 600), 2, 6)
        cams[cam] = {"R": R, "t": t, "f": focal, "c": princpt}
    return cams


def _to_camera(verts_world: np.ndarray, cam: dict[str, np.ndarray]) -> np.ndarray:
    """World-frame vertices (V, 3) metres -> camera frame, metres."""
    return world2cam(verts_world * 1000.0, cam["R"], cam["t"]) / 1000.0


def _sample_world_body(gen: Generator, rng: np.random.Generator, cams: dict[int, dict[str, np.ndarray]],
                       cam_list: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A body standing on the floor near the origin, fully inside the image of every camera in ``cam_list``.

    Returns the rounded pose (72,), shape (10,), translation (3,) metres and the world-frame vertices (6890, 3).
    """
    height, width = _H36M_SIZE
    big = rng.random() < 0.25
    for _attempt in range(100):
        pose = sample_body_pose(rng)
        yaw = rng.uniform(-np.pi, np.pi)
        tilt = rot("x", rng.normal(0, 0.06)) @ rot("y", rng.normal(0, 0.06))
        pose[:3] = rotvec(rot("z", yaw) @ rot("x", np.pi / 2) @ tilt)  # SMPL y-up -> world z-up
        pose = rq(pose, 6)
        shape = rq(sample_body_shape(rng, big), 6)
        verts0, joints0 = gen.body(pose, shape, None)
        xy = rng.uniform(-0.4, 0.4, size=2)
        trans = rq(np.array([xy[0] - joints0[0, 0], xy[1] - joints0[0, 1], -verts0[:, 2].min()]), 6)
        verts_world, _ = gen.body(pose, shape, trans)
        ok = True
        for cam in cam_list:
            c = cams[cam]
            ok &= inside(project(_to_camera(verts_world, c), c["f"], c["c"]), width, height, 6.0)
        if ok:
            return pose, shape, trans, verts_world
    raise RuntimeError("Human36M: could not place the body in all cameras")


def write_human36m(gen: Generator, size: str, rng: np.random.Generator) -> Path:
    """Write ``Human36M/`` under the generator's data folder; returns that folder."""
    root = gen.data_dir / "Human36M"
    ann_dir = root / "annotations"
    height, width = _H36M_SIZE
    gen.copy_regressor(H36M_REGRESSOR_FILENAME, "Human36M")
    plan = _h36m_plan(size, rng)
    image_id = 0
    rootnet = []
    missing_fit_done = False
    for subject, items in plan.items():
        cams = _h36m_cameras(rng)
        images, annotations = [], []
        joints_3d: dict = {}
        smpl_params: dict = {}
        for action, subaction, frame, cam_list in items:
            pose, shape, trans, verts_world = _sample_world_body(gen, rng, cams, cam_list)
            colours = gen.body_colours(rng)
            key_a, key_s, key_f = str(action), str(subaction), str(frame)
            if subject == _H36M_TRAIN[-1] and not missing_fit_done:
                missing_fit_done = True  # this frame has no SMPL fit (is_valid_fit = 0 branch)
            else:
                smpl_params.setdefault(key_a, {}).setdefault(key_s, {})[key_f] = param_json(pose, shape, trans)
            for k, cam in enumerate(cam_list):
                c = cams[cam]
                verts_cam = _to_camera(verts_world, c)  # metres
                joint_cam = gen.h36m_reg @ (verts_cam * 1000.0)  # mm, what the reader must recover
                if k == 0:  # the frame's joints, exact for its kept camera
                    joint_world = (c["R"].T @ (joint_cam - c["t"][None, :]).T).T
                    joints_3d.setdefault(key_a, {}).setdefault(key_s, {})[key_f] = rnd(joint_world, 4)
                folder = f"s_{subject:02d}_act_{action:02d}_subact_{subaction:02d}_ca_{cam:02d}"
                file_name = f"{folder}/{folder}_{frame + 1:06d}.jpg"
                bbox = tight_box(project(verts_cam, c["f"], c["c"]))
                gen.render("Human36M", file_name, root / "images", image_id, [(verts_cam, gen.smpl.face, colours)],
                           [image_id], c["f"], c["c"], (height, width), rng)
                images.append({"id": image_id, "file_name": file_name, "width": width, "height": height,
                               "subject": subject, "action_idx": action, "subaction_idx": subaction,
                               "frame_idx": frame, "cam_idx": cam})
                annotations.append({"id": image_id, "image_id": image_id, "bbox": rnd(bbox, 4)})
                if subject in _H36M_TEST:
                    rootnet.append(rootnet_entry("image_id", image_id, bbox, (height, width), joint_cam[0], 4))
                image_id += 1
        write_json(ann_dir / f"Human36M_subject{subject}_data.json", {"images": images, "annotations": annotations})
        write_json(ann_dir / f"Human36M_subject{subject}_camera.json",
                   {str(k): {"R": rnd(v["R"], 8), "t": rnd(v["t"], 4), "f": rnd(v["f"], 4),
                             "c": rnd(v["c"], 4)} for k, v in cams.items()})
        write_json(ann_dir / f"Human36M_subject{subject}_joint_3d.json", joints_3d)
        write_json(ann_dir / f"Human36M_subject{subject}_smpl_param.json", smpl_params)
    write_rootnet(root, "human36m", rootnet)
    gen.flush_masks("Human36M")
    return root
