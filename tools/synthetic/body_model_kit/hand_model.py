"""The synthetic MANO right-hand model: the canonical hand refined to 778 vertices, rigged, with shape / pose
blends, a 45-D articulation PCA basis and a mean articulation."""
from __future__ import annotations

import functools

import numpy as np

from .curves import ramp
from .hand_mesh import FINGERS, HAND_KNUCKLE_X, PALM, THUMB, build_hand_canonical
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
from .skeleton import MANO_FINGERTIP_VERTICES, MANO_NUM_VERTS, MANO_PARENTS

_NUM_JOINTS = 16


def _hand_weights(verts: np.ndarray, part: np.ndarray, joints: dict[int, np.ndarray], thumb_axis, avg) -> np.ndarray:
    """Skinning weights (V, 16): palm shared between wrist and knuckles, chains along fingers and thumb."""
    t_base, t_dir = thumb_axis
    nj = _NUM_JOINTS
    x, _, z = verts.T
    w = np.zeros((len(verts), nj))
    m = part == PALM
    zf = {name: joints[FINGERS[name][1][0]][2] for name in FINGERS}
    share = np.stack([np.exp(-0.5 * ((z[m] - zf[n]) / 0.008) ** 2) for n in FINGERS], axis=1)
    share /= share.sum(axis=1, keepdims=True)
    knuckle = ramp(x[m], HAND_KNUCKLE_X + 0.035, HAND_KNUCKLE_X + 0.004)
    wp = np.zeros((m.sum(), nj))
    wp[:, 0] = 1.0 - knuckle
    for i, n in enumerate(FINGERS):
        wp[:, FINGERS[n][1][0]] += knuckle * share[:, i]
    thenar = 0.8 * np.exp(-0.5 * (np.linalg.norm(verts[m] - (t_base + 0.02 * t_dir), axis=1)
                                  / 0.014) ** 2)
    w[m] = blend_into(wp, thenar, 13)
    for n, (part_id, (j1, j2, j3), length, _, _) in FINGERS.items():
        m = part == part_id
        w[m] = chain_weights(-x[m], [-joints[j2][0], -joints[j3][0]], [j1, j2, j3],
                             [0.009, 0.008], nj)
    m = part == THUMB
    s_th = (verts[m] - t_base) @ t_dir
    w[m] = chain_weights(s_th, [0.042, 0.072], [13, 14, 15], [0.011, 0.009], nj)
    return prune_weights(smooth(w, avg, 6))


@functools.cache
def hand_base() -> dict:
    """Canonical hand with exact vertex count, fingertips at their indices, weights, regressor (cached).

    Keys: ``verts`` (778, 3), ``faces`` (1538, 3), ``part``, ``centre``, ``coord`` (per vertex), ``avg``,
    ``weights`` (778, 16), ``J_regressor`` (16, 778), ``boundary`` (wrist loop ids), ``joints`` (16, 3),
    ``thumb_axis`` (base point, unit direction).
    """
    (verts, faces, part, centre, coord), tips, boundary, joints, (t_base, t_dir) = build_hand_canonical()
    if len(verts) > MANO_NUM_VERTS:
        raise RuntimeError(f"hand construction produced {len(verts)} > {MANO_NUM_VERTS} vertices")
    verts, faces, (part, centre, coord) = split_longest_edges(
        verts, faces, [part, centre, coord], MANO_NUM_VERTS)
    t = MANO_FINGERTIP_VERTICES
    specials = [(tips["thumb"][0], t["thumb"]), (tips["index"][0], t["index"]),
                (tips["middle"][0], t["middle"]), (tips["middle"][1], t["middle_alt"]),
                (tips["ring"][0], t["ring"]), (tips["little"][0], t["little"])]
    order, inverse = permutation_for(specials, len(verts))
    verts, part, centre, coord = verts[order], part[order], centre[order], coord[order]
    faces = inverse[faces]
    boundary = inverse[np.asarray(boundary)]
    avg = vertex_adjacency(faces, len(verts))
    w = _hand_weights(verts, part, joints, (t_base, t_dir), avg)
    targets = np.array([joints[k] for k in range(_NUM_JOINTS)])
    cands = [surrounding(verts, targets[k], 3) for k in range(_NUM_JOINTS)]
    jreg = regressor_from_targets(verts, targets, cands)
    return {"verts": verts, "faces": faces, "part": part, "centre": centre, "coord": coord,
            "avg": avg, "weights": w, "J_regressor": jreg, "boundary": boundary,
            "joints": targets, "thumb_axis": (t_base, t_dir)}


def _hand_fields(verts: np.ndarray, centre: np.ndarray, part: np.ndarray, faces: np.ndarray, avg,
                 thumb_axis) -> np.ndarray:
    """Smooth deformation fields (V, 3, 10), metres per unit coefficient: the hand's shape directions."""
    x, y, z = verts.T
    radial = radial_field(verts, centre, avg, faces)
    finger = np.isin(part, [v[0] for v in FINGERS.values()]).astype(np.float64)
    thumb = (part == THUMB).astype(np.float64)
    t_base, t_dir = thumb_axis
    beyond = np.clip(HAND_KNUCKLE_X - x, 0.0, None)           # distance past the knuckles
    f = np.zeros((len(verts), 3, 10))
    f[:, :, 0] = 0.04 * verts                                  # overall size
    f[:, 2, 1] = 0.10 * z * ramp(x, 0.01, -0.02)                # palm width
    f[:, 0, 2] = -0.12 * beyond * finger                       # finger length
    f[:, :, 3] = 0.08 * finger[:, None] * radial               # finger thickness
    s_th = np.clip((verts - t_base) @ t_dir - 0.02, 0.0, None)
    f[:, :, 4] = 0.12 * (thumb * s_th)[:, None] * t_dir[None]  # thumb length
    f[:, 1, 5] = 0.10 * y * (1.0 - finger) * (1.0 - thumb)     # palm thickness
    f[:, 0, 6] = -0.006 * ramp(x, -0.01, -0.08)                 # palm length (fingers move along)
    f[:, 1, 7] = 0.06 * y                                      # overall thickness
    f[:, :, 8] = 0.08 * thumb[:, None] * radial                # thumb thickness
    f[:, 2, 9] = 0.25 * z * np.clip(beyond / 0.08, 0.0, 1.0)   # finger spread
    return smooth(f, avg, 4)


def _hand_pca(rng: np.random.Generator) -> np.ndarray:
    """Orthonormal 45 x 45 basis whose first rows are articulation synergies (curl, spread, thumb)."""
    curl = np.zeros((15, 3))
    curl[:12, 2] = 1.0                        # finger flexion (about +z)
    curl[12:, :] = [0.3, 0.6, 0.5]            # thumb
    spread = np.zeros((15, 3))
    for i, sgn in zip((0, 3, 6, 9), (1.0, 0.2, -1.0, -0.5)):    # index, middle, little, ring MCP
        spread[i, 1] = sgn
    thumb = np.zeros((15, 3))
    thumb[12:, :] = [[0.8, -0.2, 0.3], [0.2, 0.1, 0.6], [0.0, 0.0, 0.7]]
    m = np.vstack([curl.ravel(), spread.ravel(), thumb.ravel(), rng.normal(size=(42, 45))])
    q, r = np.linalg.qr(m.T)
    q = q * np.sign(np.diag(r))[None, :]
    return q.T.copy()


def _hand_mean(rng: np.random.Generator) -> np.ndarray:
    """Mean articulation (45,) in axis-angle radians: fingers slightly curled, thumb slightly opposed."""
    mean = np.zeros((15, 3))
    mean[:12, 2] = np.tile([0.22, 0.18, 0.08], 4)
    mean[[0, 3, 6, 9], 1] = [0.05, 0.0, -0.08, -0.04]
    mean[12:] = [[0.10, 0.05, 0.12], [0.02, 0.0, 0.15], [0.0, 0.0, 0.12]]
    mean += rng.normal(0.0, 0.02, size=mean.shape)
    return mean.ravel()


def build_mano_model(seed: int = 0) -> dict[str, np.ndarray]:
    """The synthetic right-hand MANO model as a dict of plain arrays (official key names, metres)."""
    base = hand_base()
    rng = np.random.default_rng([int(seed), 11])
    fields = _hand_fields(base["verts"], base["centre"], base["part"], base["faces"], base["avg"],
                          base["thumb_axis"])
    coeffs = rng.normal(0.0, 0.3, size=10)
    v_template = base["verts"] + fields @ coeffs
    shapedirs = _hand_fields(v_template, base["centre"] + (v_template - base["verts"]), base["part"],
                             base["faces"], base["avg"], base["thumb_axis"])
    shapedirs *= rng.uniform(0.9, 1.1, size=10)
    jreg = base["J_regressor"]
    J = jreg @ v_template
    normals = vertex_normals(v_template, base["faces"])
    sigmas = np.full(16, 0.012)
    sigmas[[13, 14, 15]] = 0.015
    posedirs = pose_blend_shapes(v_template, normals, J, base["weights"], MANO_PARENTS, sigmas,
                                 twist=0.04 * rng.uniform(0.9, 1.1),
                                 bulge=0.0012 * rng.uniform(0.9, 1.1))
    hands_mean = _hand_mean(rng)
    model = model_dict(v_template, shapedirs, posedirs, jreg, base["weights"], base["faces"], MANO_PARENTS, J)
    model.update(hands_components=_hand_pca(rng), hands_mean=hands_mean)
    return model
