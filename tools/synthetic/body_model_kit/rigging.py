"""Rigging shared by the body and the hand: skinning weights, joint regressors, pose blend shapes, model dict.

Joint locations are given (metres); the joint regressor reproduces each one as a sparse convex combination of
vertices, so ``J_regressor @ v_template`` lands on the intended joint for the canonical mesh.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse
from scipy.optimize import nnls

from .curves import smoothstep
from .mesh_ops import smooth, vertex_normals
from .skeleton import ROOT_PARENT


def chain_weights(coord: np.ndarray, stations: Sequence[float], joints: Sequence[int], widths: Sequence[float],
                  num_joints: int) -> np.ndarray:
    """Skinning weights (V, num_joints) along a chain: ``joints[0]`` below ``stations[0]`` ... ``joints[-1]`` above.

    ``coord`` (V,) is the position along the chain; the hand-over at each station is smooth over +-``widths``.
    """
    coord = np.asarray(coord, dtype=np.float64)
    w = np.zeros((len(coord), num_joints))
    w[:, joints[0]] = 1.0
    for st, jnt, h in zip(stations, joints[1:], widths):
        t = smoothstep((coord - st + h) / (2.0 * h))[:, None]
        onehot = np.zeros(num_joints)
        onehot[jnt] = 1.0
        w = (1.0 - t) * w + t * onehot
    return w


def blend_into(w: np.ndarray, mask: np.ndarray, joint_idx: int) -> np.ndarray:
    """Weights (V, J) moved towards joint ``joint_idx`` by ``mask`` (V,) in [0, 1]."""
    mask = np.asarray(mask, dtype=np.float64)[:, None]
    onehot = np.zeros(w.shape[1])
    onehot[joint_idx] = 1.0
    return (1.0 - mask) * w + mask * onehot


def prune_weights(w: np.ndarray, keep: int = 4, floor: float = 1e-3) -> np.ndarray:
    """At most ``keep`` joints per vertex, none below ``floor``, rows renormalised to sum 1."""
    w = np.array(w, dtype=np.float64)
    w[w < floor] = 0.0
    if w.shape[1] > keep:
        idx = np.argsort(-w, axis=1)[:, keep:]
        np.put_along_axis(w, idx, 0.0, axis=1)
    return w / w.sum(axis=1, keepdims=True)


def convex_fit(points: np.ndarray, target: np.ndarray, reg: float = 0.05) -> np.ndarray:
    """Non-negative weights (k,) summing to 1 whose combination of ``points`` (k, 3) reproduces ``target`` (3,).

    Solved as a regularised NNLS (pulling towards uniform weights so the rows are not ultra sparse).
    """
    points = np.asarray(points, dtype=np.float64)
    k = len(points)
    lam = 1.0e3
    w0 = np.full(k, 1.0 / k)
    a = np.vstack([lam * points.T, lam * np.ones((1, k)), np.sqrt(reg) * np.eye(k)])
    b = np.concatenate([lam * np.asarray(target, dtype=np.float64), [lam], np.sqrt(reg) * w0])
    w, _ = nnls(a, b, maxiter=50 * k)
    return w / w.sum()


def regressor_from_targets(verts: np.ndarray, targets, candidate_sets, reg: float = 0.05) -> np.ndarray:
    """Sparse convex-combination rows (len(targets), V), one per target, over the given candidate vertices."""
    rows = np.zeros((len(targets), len(verts)))
    for k, (target, cand) in enumerate(zip(targets, candidate_sets)):
        cand = np.asarray(cand)
        w = convex_fit(verts[cand], target, reg=reg)
        w[w < 1e-4] = 0.0
        rows[k, cand] = w / w.sum()
    return rows


def surrounding(verts: np.ndarray, point: np.ndarray, per_octant: int,
                allowed: np.ndarray | None = None) -> np.ndarray:
    """The ``per_octant`` nearest vertices in each of the 8 octants around ``point`` (sorted ids).

    Picking candidates on all sides makes ``point`` lie inside their convex hull, so a convex
    combination can reproduce it exactly.  ``allowed`` (V,) bool restricts the candidates.
    """
    d = verts - point
    dist = np.linalg.norm(d, axis=1)
    if allowed is not None:
        dist = np.where(allowed, dist, np.inf)
    octant = (d[:, 0] > 0) * 4 + (d[:, 1] > 0) * 2 + (d[:, 2] > 0)
    out = []
    for o in range(8):
        idx = np.flatnonzero((octant == o) & np.isfinite(dist))
        out.extend(idx[np.argsort(dist[idx], kind="stable")[:per_octant]])
    return np.sort(np.asarray(out, dtype=np.int64))


def pose_blend_shapes(verts: np.ndarray, normals: np.ndarray, joints: np.ndarray, weights: np.ndarray,
                      parents: Sequence[int], sigmas: np.ndarray, twist: float = 0.06,
                      bulge: float = 0.006) -> np.ndarray:
    """posedirs (V, 3, 9 * (J - 1)): smooth correctives around each non-root joint.

    For joint k with pose feature P = R_k - I the offset is ``b_v * (twist * P (v - J_k) - bulge *
    trace(P) * n_v)``: a slight extra rotation near the joint plus an outward bulge that grows with
    the bend angle (trace(R - I) = 2 cos(theta) - 2), with ``b_v`` a Gaussian bump (``sigmas[k]`` metres)
    around the joint restricted to the two body parts it connects.
    """
    nv, nj = len(verts), len(joints)
    pd = np.zeros((nv, 3, 9 * (nj - 1)))
    for k in range(1, nj):
        par = parents[k]
        d = verts - joints[k]
        bump = np.exp(-0.5 * (np.linalg.norm(d, axis=1) / sigmas[k]) ** 2)
        bump = bump * np.clip(weights[:, k] + weights[:, par], 0.0, 1.0)
        for r in range(3):
            for c in range(3):
                col = 9 * (k - 1) + 3 * r + c
                pd[:, r, col] += twist * bump * d[:, c]
                if r == c:
                    pd[:, :, col] -= bulge * bump[:, None] * normals
    return pd


def radial_field(verts: np.ndarray, centre: np.ndarray, avg: scipy.sparse.spmatrix, faces: np.ndarray) -> np.ndarray:
    """Outward offsets (V, 3) of the size of the local cross-section radius, smooth across junctions.

    ``|v - ring centre|`` along the vertex normal: unlike ``v - centre`` it does not jump where
    rings of different tubes meet (crotch chord, arm holes, finger roots).
    """
    radius = smooth(np.linalg.norm(verts - centre, axis=1), avg, 4)
    return radius[:, None] * vertex_normals(verts, faces)


def model_dict(v_template: np.ndarray, shapedirs: np.ndarray, posedirs: np.ndarray, jreg: np.ndarray,
               weights: np.ndarray, faces: np.ndarray, parents: Sequence[int], J: np.ndarray) -> dict:
    """The keys shared by the official SMPL and MANO files (J_regressor as a csc matrix, faces uint32)."""
    kintree = np.array([[ROOT_PARENT] + list(parents[1:]), list(range(len(parents)))], dtype=np.int64)
    return {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": scipy.sparse.csc_matrix(jreg),
        "weights": weights.copy(),
        "f": faces.astype(np.uint32),
        "kintree_table": kintree,
        "J": J,
        "bs_type": "lrotmin",
        "bs_style": "lbs",
    }
