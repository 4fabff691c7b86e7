"""The synthetic SMPL model: the canonical body refined to 6890 vertices, rigged, and given shape / pose blends.

Gender and seed variants share one topology: they are the canonical mesh plus a combination of smooth
deformation fields (the same fields span the shape space).  Everything is deterministic for a seed.
"""
from __future__ import annotations

import functools

import numpy as np

from .body_mesh import (
    BODY_JOINTS,
    LARM,
    LLEG,
    RARM,
    RLEG,
    TORSO,
    TORSO_TABLE,
    build_body_canonical,
)
from .curves import bump, ramp
from .mesh_ops import (
    permutation_for,
    smooth,
    split_longest_edges,
    vertex_adjacency,
    vertex_normals,
)
from .rigging import (
    blend_into,
    chain_weights,
    model_dict,
    pose_blend_shapes,
    prune_weights,
    radial_field,
    regressor_from_targets,
    surrounding,
)
from .skeleton import GENDERS, SMPL_FACE_KEYPOINT_VERTICES, SMPL_NUM_VERTS, SMPL_PARENTS

# Vertical offset applied to the canonical body (built with the floor at y = 0) so that the pelvis
# joint sits near y = -0.22 like SMPL's template.
_BODY_Y_OFFSET = -1.16
_NUM_JOINTS = 24

_GENDER_COEFFS = {
    "neutral": np.zeros(10),
    "male": np.array([0.8, 0.0, 0.3, 0.2, 1.2, -0.3, 0.0, -0.8, 0.5, 0.8]),
    "female": np.array([-1.0, 0.3, -0.2, -0.3, -1.3, 0.2, -0.3, 1.4, -0.2, -0.8]),
}
# Rows of the Human3.6M / COCO regressors built from fitted vertex combinations (the COCO face rows are one-hot
# on the face keypoint vertices instead).
_H36M_ROWS = ("pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "torso", "neck", "nose",
              "head_top", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist")
_COCO_BODY_ROWS = ("l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip",
                   "l_knee", "r_knee", "l_ankle", "r_ankle")


def _body_weights(verts: np.ndarray, part: np.ndarray, avg) -> np.ndarray:
    """Skinning weights (V, 24): chains along the torso, legs and arms, then smoothed and pruned."""
    J = {k: np.asarray(v) for k, v in BODY_JOINTS.items()}
    nj = _NUM_JOINTS
    x, y, z = verts.T
    w = np.zeros((len(verts), nj))
    m = part == TORSO
    wt = chain_weights(y[m], [J[3][1], J[6][1], J[9][1], J[12][1], J[15][1] - 0.005],
                       [0, 3, 6, 9, 12, 15], [0.05, 0.05, 0.04, 0.035, 0.03], nj)
    xs, ys_ = x[m], y[m]
    collar = ramp(np.abs(xs), 0.07, 0.15) * ramp(ys_, J[9][1] + 0.03, J[9][1] + 0.11)
    wt = blend_into(wt, collar * (xs > 0), 13)
    wt = blend_into(wt, collar * (xs < 0), 14)
    hip = 0.6 * ramp(ys_, J[1][1] + 0.05, TORSO_TABLE[0][0]) * ramp(np.abs(xs), 0.01, 0.07)
    wt = blend_into(wt, hip * (xs > 0), 1)
    wt = blend_into(wt, hip * (xs < 0), 2)
    w[m] = wt
    for p_, side in ((LLEG, 0), (RLEG, 1)):
        m = part == p_
        hipj, knee, ankle, foot = (1 + side, 4 + side, 7 + side, 10 + side)
        wl = chain_weights(-y[m], [-(TORSO_TABLE[0][0] + 0.025), -J[4][1], -J[7][1]],
                           [0, hipj, knee, ankle], [0.06, 0.06, 0.045], nj)
        toes = ramp(z[m], J[10][2] - 0.05, J[10][2] + 0.04) * ramp(y[m], J[7][1], J[7][1] - 0.04)
        wl = blend_into(wl, toes, foot)
        w[m] = wl
    for p_, side in ((LARM, 0), (RARM, 1)):
        m = part == p_
        chain = [13 + side, 16 + side, 18 + side, 20 + side, 22 + side]
        w[m] = chain_weights(np.abs(x[m]), [J[16][0], J[18][0], J[20][0], J[22][0]], chain,
                             [0.05, 0.06, 0.045, 0.03], nj)
    return prune_weights(smooth(w, avg, 10))


def _body_joint_regressor(verts: np.ndarray, part: np.ndarray) -> np.ndarray:
    """J_regressor (24, V): each canonical joint as a convex combination of surrounding vertices."""
    targets = np.array([BODY_JOINTS[k] for k in range(_NUM_JOINTS)], dtype=np.float64)
    torso_only = part == TORSO
    allowed = {k: torso_only for k in (0, 3, 6, 9, 12, 13, 14, 15)}  # spine, neck, collars, head
    cands = [surrounding(verts, targets[k], 4, allowed.get(k)) for k in range(_NUM_JOINTS)]
    return regressor_from_targets(verts, targets, cands)


def _body_external_rows(verts: np.ndarray, part: np.ndarray, head_top: int) -> dict[str, np.ndarray]:
    """Regressor rows (V,) of the Human3.6M / COCO joints, by name, fitted to targets near the SMPL joints."""
    J = {k: np.asarray(v) for k, v in BODY_JOINTS.items()}
    nose = SMPL_FACE_KEYPOINT_VERTICES["nose"]
    torso_only = part == TORSO
    ext = {  # name -> (target, restriction of the candidate vertices)
        "pelvis": (np.array([0.0, 0.875, -0.012]), torso_only),
        "r_hip": (J[2] + [-0.012, -0.005, 0.0], None), "l_hip": (J[1] + [0.012, -0.005, 0.0], None),
        "r_knee": (J[5], None), "l_knee": (J[4], None),
        "r_ankle": (J[8], None), "l_ankle": (J[7], None),
        "torso": (np.array([0.0, 1.12, -0.015]), torso_only),
        "neck": (np.array([0.0, 1.46, -0.02]), torso_only),
        "nose": (verts[nose] - [0.0, 0.0, 0.012], None),
        "head_top": (verts[head_top] - [0.0, 0.012, 0.0], None),
        "l_shoulder": (J[16] + [0.01, 0.0, 0.0], None), "r_shoulder": (J[17] - [0.01, 0.0, 0.0], None),
        "l_elbow": (J[18], None), "r_elbow": (J[19], None),
        "l_wrist": (J[20], None), "r_wrist": (J[21], None),
    }
    rows = {}
    for name, (target, allow) in ext.items():
        cand = surrounding(verts, target, 1, allow)
        rows[name] = regressor_from_targets(verts, [target], [cand], reg=0.2)[0]
    return rows


@functools.cache
def body_base() -> dict:
    """Canonical body with exact vertex count, keypoints at their indices, weights, regressors (cached).

    Keys: ``verts`` (6890, 3), ``faces`` (13776, 3), ``part``, ``centre``, ``coord`` (per vertex), ``avg``
    (neighbour-mean operator), ``weights`` (6890, 24), ``J_regressor`` (24, 6890), ``ext_rows`` (name -> (6890,)),
    ``head_top`` (vertex id).
    """
    (verts, faces, part, centre, coord), kp = build_body_canonical()
    if len(verts) > SMPL_NUM_VERTS:
        raise RuntimeError(f"body construction produced {len(verts)} > {SMPL_NUM_VERTS} vertices")
    verts, faces, (part, centre, coord) = split_longest_edges(
        verts, faces, [part, centre, coord], SMPL_NUM_VERTS)
    order, inverse = permutation_for(
        [(kp[name], idx) for name, idx in SMPL_FACE_KEYPOINT_VERTICES.items()], len(verts))
    verts, part, centre, coord = verts[order], part[order], centre[order], coord[order]
    faces = inverse[faces]
    head_top = int(inverse[kp["head_top"]])
    avg = vertex_adjacency(faces, len(verts))
    return {
        "verts": verts, "faces": faces, "part": part, "centre": centre, "coord": coord, "avg": avg,
        "weights": _body_weights(verts, part, avg), "J_regressor": _body_joint_regressor(verts, part),
        "ext_rows": _body_external_rows(verts, part, head_top), "head_top": head_top,
    }


def _body_fields(verts: np.ndarray, centre: np.ndarray, part: np.ndarray, faces: np.ndarray, avg) -> np.ndarray:
    """Smooth deformation fields (V, 3, 10), metres per unit coefficient, used as shape directions and for
    gender / seed variants."""
    x, y, _ = verts.T
    radial = radial_field(verts, centre, avg, faces)
    arm = np.isin(part, (LARM, RARM))
    leg = np.isin(part, (LLEG, RLEG))
    f = np.zeros((len(verts), 3, 10))
    pelvis = np.array([0.0, 0.935, 0.0])
    # 0: overall size
    f[:, :, 0] = 0.035 * (verts - pelvis)
    # 1: weight / girth (belly and torso most, head least)
    torso_gain = np.where(part == TORSO, 1.0 - 0.8 * ramp(y, 1.45, 1.55), 0.0)
    limb_gain = np.where(leg, 0.8 - 0.5 * ramp(y, 0.5, 0.1), 0.0) + np.where(
        arm, 0.7 - 0.5 * ramp(np.abs(x), 0.6, 0.75), 0.0)
    gain = torso_gain + limb_gain
    f[:, :, 1] = 0.06 * gain[:, None] * radial
    # 2: leg length (everything below the hips moves down, feet most)
    below = ramp(y, 0.90, 0.75) * np.clip((0.90 - y) / 0.85, 0.0, 1.0)
    f[:, 1, 2] = -0.045 * below
    # 3: torso length (everything above the waist moves up)
    f[:, 1, 3] = 0.03 * ramp(y, 1.0, 1.3)
    # 4: shoulder width and arm length
    sh = ramp(np.abs(x), 0.05, 0.17) * ramp(y, 1.28, 1.38)
    f[:, 0, 4] = np.sign(x) * (0.02 * sh + 0.03 * arm * np.clip((np.abs(x) - 0.2) / 0.68, 0, 1))
    # 5: belly
    front = np.clip(radial[:, 2] / 0.1, 0.0, 1.0) * (part == TORSO)
    f[:, :, 5] = 0.022 * (bump(y, 1.1, 0.07) * front)[:, None] * vertex_normals(verts, faces)
    # 6: head size
    head = ramp(y, 1.50, 1.56)
    f[:, :, 6] = 0.06 * head[:, None] * (verts - np.array([0.0, 1.58, 0.01]))
    # 7: hip width
    hips = bump(y, 0.88, 0.09) * (1.0 - arm)
    f[:, 0, 7] = 0.014 * np.tanh(x / 0.06) * hips
    # 8: chest depth
    chest = bump(y, 1.27, 0.08) * (part == TORSO)
    f[:, 2, 8] = 0.016 * chest * np.clip(radial[:, 2] / 0.1, -0.3, 1.0)
    # 9: limb muscularity
    muscle = np.where(arm, ramp(np.abs(x), 0.19, 0.26) * (1.0 - ramp(np.abs(x), 0.66, 0.74)), 0.0)
    muscle = muscle + np.where(leg, ramp(y, 0.81, 0.74) * (1.0 - ramp(y, 0.2, 0.08)), 0.0)
    f[:, :, 9] = 0.04 * muscle[:, None] * radial
    return smooth(f, avg, 6)


def build_smpl_model(seed: int = 0, gender: str = "neutral") -> dict[str, np.ndarray]:
    """The synthetic SMPL model for ``gender`` as a dict of plain arrays (official key names, metres)."""
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {GENDERS}, got {gender!r}")
    base = body_base()
    rng = np.random.default_rng([int(seed), GENDERS.index(gender), 1])
    fields = _body_fields(base["verts"], base["centre"], base["part"], base["faces"], base["avg"])
    coeffs = _GENDER_COEFFS[gender] + rng.normal(0.0, 0.25, size=10)
    v_canon = base["verts"] + fields @ coeffs
    v_template = v_canon + np.array([0.0, _BODY_Y_OFFSET, 0.0])
    shapedirs = _body_fields(v_canon, base["centre"] + (v_canon - base["verts"]), base["part"],
                             base["faces"], base["avg"])
    shapedirs *= rng.uniform(0.9, 1.1, size=10)[None, None, :]
    jreg = base["J_regressor"]
    J = jreg @ v_template
    normals = vertex_normals(v_template, base["faces"])
    sigmas = np.full(24, 0.07)
    sigmas[[10, 11, 15, 20, 21, 22, 23]] = 0.05
    posedirs = pose_blend_shapes(v_template, normals, J, base["weights"], SMPL_PARENTS, sigmas,
                                 twist=0.05 * rng.uniform(0.9, 1.1), bulge=0.006 * rng.uniform(0.9, 1.1))
    return model_dict(v_template, shapedirs, posedirs, jreg, base["weights"], base["faces"], SMPL_PARENTS, J)


def build_body_regressors(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(H36M regressor, COCO regressor), both float64 (17, 6890), for the synthetic body."""
    base = body_base()
    rng = np.random.default_rng([int(seed), 7])
    rows = base["ext_rows"]
    h36m = np.stack([rows[n] for n in _H36M_ROWS])
    h36m *= rng.uniform(0.9996, 1.0, size=(len(h36m), 1))
    coco = np.zeros((17, SMPL_NUM_VERTS))
    for k, name in enumerate(("nose", "left_eye", "right_eye", "left_ear", "right_ear")):
        coco[k, SMPL_FACE_KEYPOINT_VERTICES[name]] = 1.0
    for k, name in enumerate(_COCO_BODY_ROWS, start=5):
        coco[k] = rows[name]
    return h36m.astype(np.float64), coco.astype(np.float64)
