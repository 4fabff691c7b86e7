"""Seeded generator of synthetic SMPL and MANO model files in the official pickle format.

The real SMPL / MANO files are licensed and cannot be shipped or downloaded, so the project builds
stand-ins with the same structure (see ``design.md`` section 5 and ``spec/body_models.md``):

* a humanoid body with exactly 6890 vertices / 13776 faces (one closed genus-0 surface), the 24 SMPL
  joints with the real kinematic tree, 10 shape and 207 pose blend directions, skinning weights, a
  sparse joint regressor and the five face-keypoint vertices (331 nose, 2802 / 6262 eyes, 3489 /
  3990 ears) on the head;
* a right hand with 778 vertices / 1538 faces (open at a 16-vertex wrist loop), the 16 MANO joints,
  fingertip vertices 745 / 317 / 444+445 / 556 / 673, a 45-D PCA basis and a mean articulation;
* the two external body regressors (Human3.6M and COCO joints, 17 x 6890 each).

Meshes are built procedurally from stacked cross-section rings ("tubes"): the torso, neck and head are
one tube of rings along +y closed by a pole on the head; the legs hang from the crotch ring, which is
split in two by a chord of vertices (a pair of pants); each arm leaves the torso through a rectangular
hole cut out of the shoulder rows; the hand (MANO) is a palm tube split into four finger tubes by
chords, with the thumb leaving through a hole in the palm side.  Consecutive rings are joined by a
parameter-merging "bridge" so rings may have different vertex counts.  The vertex count is brought to
the exact target by splitting the longest edges, and the keypoint vertices are moved to their official
indices by a permutation (faces renumbered with it).

Gender and seed variants share one topology: they are the canonical mesh plus a combination of smooth
deformation fields (the same fields span the shape space).  Everything is deterministic for a seed.

Files are written as protocol-2 pickles that look like the 2016-era Python 2 files: chumpy ``Ch``
objects (rebuilt by ``NEWOBJ`` + ``BUILD`` with the array under ``x``), ndarrays through
``numpy.core.multiarray._reconstruct``, raw bytes as Python-2 strings, and ``J_regressor`` as a
``scipy.sparse.csc.csc_matrix``.  They load with :func:`common.utils.model_files.load_model_file`.

CLI: ``python -m tools.synthetic.body_models --out DIR [--seed N]``.
"""
from __future__ import annotations

import argparse
import copyreg
import functools
import heapq
import io
import pickle
import struct
from pathlib import Path

import numpy as np
import scipy.sparse
from scipy.interpolate import PchipInterpolator
from scipy.optimize import nnls

__all__ = [
    "SMPL_FILENAMES",
    "MANO_FILENAME",
    "H36M_REGRESSOR_FILENAME",
    "COCO_REGRESSOR_FILENAME",
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "MANO_JOINT_NAMES",
    "MANO_PARENTS",
    "SMPL_FACE_KEYPOINT_VERTICES",
    "MANO_FINGERTIP_VERTICES",
    "H36M_JOINT_NAMES",
    "COCO_JOINT_NAMES",
    "build_smpl_model",
    "build_mano_model",
    "build_body_regressors",
    "write_model_pickle",
    "write_smpl_files",
    "write_mano_file",
    "write_body_regressors",
    "write_all",
    "main",
]

SMPL_FILENAMES = {
    "neutral": "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl",
    "male": "basicModel_m_lbs_10_207_0_v1.0.0.pkl",
    "female": "basicModel_f_lbs_10_207_0_v1.0.0.pkl",
}
MANO_FILENAME = "MANO_RIGHT.pkl"
H36M_REGRESSOR_FILENAME = "J_regressor_h36m_correct.npy"
COCO_REGRESSOR_FILENAME = "J_regressor_coco_hip_smpl.npy"

SMPL_NUM_VERTS = 6890
SMPL_NUM_FACES = 13776
MANO_NUM_VERTS = 778
MANO_NUM_FACES = 1538
MANO_WRIST_LOOP = 16

SMPL_JOINT_NAMES = (
    "pelvis", "L_hip", "R_hip", "spine1", "L_knee", "R_knee", "spine2", "L_ankle", "R_ankle",
    "spine3", "L_foot", "R_foot", "neck", "L_collar", "R_collar", "head", "L_shoulder",
    "R_shoulder", "L_elbow", "R_elbow", "L_wrist", "R_wrist", "L_hand", "R_hand",
)
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
MANO_JOINT_NAMES = (
    "wrist", "index1", "index2", "index3", "middle1", "middle2", "middle3", "little1", "little2",
    "little3", "ring1", "ring2", "ring3", "thumb1", "thumb2", "thumb3",
)
MANO_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)
SMPL_FACE_KEYPOINT_VERTICES = {"nose": 331, "left_eye": 2802, "right_eye": 6262, "left_ear": 3489,
                               "right_ear": 3990}
MANO_FINGERTIP_VERTICES = {"thumb": 745, "index": 317, "middle": 444, "middle_alt": 445, "ring": 556,
                           "little": 673}
H36M_JOINT_NAMES = (
    "Pelvis", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Torso", "Neck", "Nose",
    "Head_top", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist",
)
COCO_JOINT_NAMES = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
    "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)
_ROOT_PARENT = np.int64(4294967295)  # how the official files store the root's parent (uint32 -1)
_GENDERS = ("neutral", "male", "female")

# Vertical offset applied to the canonical body (built with the floor at y = 0) so that the pelvis
# joint sits near y = -0.22 like SMPL's template.
_BODY_Y_OFFSET = -1.16

# Which arrays are stored as chumpy objects (the others as plain ndarrays), as in the official files.
_SMPL_CHUMPY_KEYS = ("v_template", "shapedirs", "posedirs", "weights", "J")
_MANO_CHUMPY_KEYS = ("v_template", "shapedirs", "posedirs", "weights", "J", "hands_components",
                     "hands_mean")


# ---------------------------------------------------------------------------------------------
# Small numeric helpers
# ---------------------------------------------------------------------------------------------

def _smoothstep(t):
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _ramp(x, lo, hi):
    """Smooth 0 -> 1 transition as ``x`` goes from ``lo`` to ``hi`` (``lo > hi`` flips it)."""
    return _smoothstep((np.asarray(x, dtype=np.float64) - lo) / (hi - lo))


def _bump(x, centre, width):
    return np.exp(-0.5 * ((np.asarray(x, dtype=np.float64) - centre) / width) ** 2)


def _normalize(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _profile(points):
    """Monotone cubic interpolation of a table ``[(t, a, b, ...), ...]`` -> callable t -> (n, k)."""
    arr = np.asarray(points, dtype=np.float64)
    arr = arr[np.argsort(arr[:, 0])]
    interp = PchipInterpolator(arr[:, 0], arr[:, 1:], axis=0, extrapolate=True)
    return lambda t: interp(np.asarray(t, dtype=np.float64))


def _arclength_samples(profile, t0, t1, count, radius_cols=(0, 1), dense=4000):
    """``count`` values of t in [t0, t1) equally spaced in arc length of the profile curve.

    The profile curve is (t, mean radius) so rings bunch up where the cross-section changes fast.
    """
    t = np.linspace(t0, t1, dense)
    r = profile(t)[:, list(radius_cols)].mean(axis=1)
    seg = np.hypot(np.diff(t), np.diff(r))
    s = np.concatenate([[0.0], np.cumsum(seg)])
    targets = np.linspace(0.0, s[-1], count, endpoint=False)
    return np.interp(targets, s, t)


def _arclength(profile, t0, t1, radius_cols=(0, 1), dense=4000):
    t = np.linspace(t0, t1, dense)
    r = profile(t)[:, list(radius_cols)].mean(axis=1)
    return float(np.hypot(np.diff(t), np.diff(r)).sum())


def _convex_fit(points, target, reg=0.05):
    """Non-negative weights summing to 1 whose combination of ``points`` reproduces ``target``.

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


# ---------------------------------------------------------------------------------------------
# Mesh construction toolkit
# ---------------------------------------------------------------------------------------------

class _MeshBuilder:
    """Accumulates vertices (with construction attributes) and triangles."""

    def __init__(self, capacity=8000):
        self.pos = np.zeros((capacity, 3))
        self.centre = np.zeros((capacity, 3))   # axis point of the ring a vertex was made on
        self.part = np.zeros(capacity, dtype=np.int64)
        self.coord = np.zeros(capacity)         # 1-D coordinate along the part's chain
        self.n = 0
        self.faces: list[tuple[int, int, int]] = []

    def add(self, pos, part, centre=None, coord=0.0):
        pos = np.atleast_2d(np.asarray(pos, dtype=np.float64))
        k = len(pos)
        ids = np.arange(self.n, self.n + k)
        self.pos[ids] = pos
        self.centre[ids] = pos.mean(axis=0) if centre is None else centre
        self.part[ids] = part
        self.coord[ids] = coord
        self.n += k
        return ids

    # -- face generators ------------------------------------------------------------------

    def bridge(self, ring_a, u_a, ring_b, u_b):
        """Triangulate the band between two loops ordered the same way (``ring_b`` further along).

        ``u_a`` / ``u_b`` are increasing cyclic parameters in [0, 1) (angles / 2 pi); the loops are
        merged by parameter, so any two vertex counts work (n_a + n_b triangles).
        """
        ring_a, ring_b = list(ring_a), list(ring_b)
        na, nb = len(ring_a), len(ring_b)
        if nb == 1:
            for i in range(na):
                self.faces.append((ring_a[i], ring_a[(i + 1) % na], ring_b[0]))
            return
        if na == 1:
            for j in range(nb):
                self.faces.append((ring_a[0], ring_b[(j + 1) % nb], ring_b[j]))
            return
        u_a = (np.asarray(u_a, dtype=np.float64) - u_a[0]) % 1.0
        u_b = (np.asarray(u_b, dtype=np.float64) - u_a[0]) % 1.0
        k = int(np.argmin(np.minimum(u_b, 1.0 - u_b)))
        ring_b = ring_b[k:] + ring_b[:k]
        u_b = np.roll(u_b, -k)
        b0 = u_b[0] if u_b[0] < 0.5 else u_b[0] - 1.0
        u_b = b0 + (u_b - u_b[0]) % 1.0
        if np.any(np.diff(u_a) <= 0) or np.any(np.diff(u_b) <= 0):
            raise RuntimeError("bridge: loop parameters are not increasing")
        i = j = 0
        while i < na or j < nb:
            if i == na:
                adv_a = False
            elif j == nb:
                adv_a = True
            else:
                next_a = u_a[i + 1] if i + 1 < na else 1.0
                next_b = u_b[j + 1] if j + 1 < nb else b0 + 1.0
                adv_a = next_a <= next_b
            if adv_a:
                self.faces.append((ring_a[i % na], ring_a[(i + 1) % na], ring_b[j % nb]))
                i += 1
            else:
                self.faces.append((ring_a[i % na], ring_b[(j + 1) % nb], ring_b[j % nb]))
                j += 1

    def quad_band(self, ring_a, ring_b, skip=()):
        """Quads between two aligned rings of equal size, leaving out the columns in ``skip``."""
        n = len(ring_a)
        skip = set(int(c) % n for c in skip)
        for c in range(n):
            if c in skip:
                continue
            a0, a1, b0, b1 = ring_a[c], ring_a[(c + 1) % n], ring_b[c], ring_b[(c + 1) % n]
            self.faces.append((a0, a1, b0))
            self.faces.append((a1, b1, b0))

    # -- loop helpers ---------------------------------------------------------------------

    def loop_params(self, ids, centre, e1, e2):
        """Cyclic angle parameters of loop vertices around ``centre`` in the (e1, e2) plane."""
        d = self.pos[np.asarray(ids)] - centre
        ang = np.arctan2(d @ e2, d @ e1)
        rel = (ang - ang[0]) % (2.0 * np.pi)
        if np.any(np.diff(rel) <= 0):
            raise RuntimeError("loop is not star-shaped around its axis")
        return rel / (2.0 * np.pi)

    def loop_params_arclength(self, ids):
        """Cyclic parameters of loop vertices by arc length (for loops that are not star-shaped)."""
        p = self.pos[np.asarray(ids)]
        seg = np.linalg.norm(np.roll(p, -1, axis=0) - p, axis=1)
        return np.concatenate([[0.0], np.cumsum(seg)[:-1]]) / seg.sum()

    def split_loop(self, loop, ia, ib, chord_pos, part, coord=0.0):
        """Split a loop with a chord of new vertices from ``loop[ia]`` to ``loop[ib]`` (ia < ib).

        Returns the two loops; both keep the orientation of ``loop`` and use the chord edges in
        opposite directions, so the result stays a manifold.
        """
        loop = list(loop)
        chord = list(self.add(chord_pos, part, coord=coord)) if len(chord_pos) else []
        first = loop[ia:ib + 1] + chord[::-1]
        second = loop[ib:] + loop[:ia + 1] + chord
        return first, second

    def hole_loop(self, rows, r0, r1, c0, c1):
        """Boundary of the quad block rows r0..r1 x columns c0..c1 (oriented like the removed faces)."""
        n = len(rows[0])
        cols = [c % n for c in range(c0, c1 + 1)]
        loop = [rows[r0][c] for c in cols]
        loop += [rows[r][cols[-1]] for r in range(r0 + 1, r1 + 1)]
        loop += [rows[r1][c] for c in cols[-2::-1]]
        loop += [rows[r][cols[0]] for r in range(r1 - 1, r0, -1)]
        return loop

    def ring(self, centre, e1, e2, a, b, count, phase=0.0, part=0, coord=0.0, power=2.0):
        """A (super-)elliptic ring ordered counter-clockwise about e1 x e2."""
        ang = phase + 2.0 * np.pi * np.arange(count) / count
        c, s = np.cos(ang), np.sin(ang)
        ex = 2.0 / power
        c = np.sign(c) * np.abs(c) ** ex
        s = np.sign(s) * np.abs(s) ** ex
        pos = centre + np.outer(a * c, e1) + np.outer(b * s, e2)
        return self.add(pos, part, centre=centre, coord=coord)

    def finish(self):
        """Arrays of the mesh, with vertices no face uses (inside cut-out holes) dropped."""
        faces = np.asarray(self.faces, dtype=np.int64)
        used = np.zeros(self.n, dtype=bool)
        used[faces.ravel()] = True
        remap = np.cumsum(used) - 1
        keep = np.flatnonzero(used)
        return (self.pos[keep].copy(), remap[faces], self.part[keep].copy(),
                self.centre[keep].copy(), self.coord[keep].copy()), remap


def _split_longest_edges(verts, faces, attrs, target):
    """Split the longest interior edges until there are ``target`` vertices.

    Each split adds one vertex (the edge midpoint) and two faces, so a closed genus-0 mesh stays
    closed and genus 0, and boundary edges are never touched.  ``attrs`` are per-vertex arrays; the
    new vertex gets the mean of the edge's end points (integer arrays: the first end point's value).
    """
    verts = [np.asarray(v, dtype=np.float64) for v in verts]
    faces = [list(map(int, f)) for f in faces]
    attrs = [list(a) for a in attrs]

    def key(a, b):
        return (a, b) if a < b else (b, a)

    def entry(e):
        return (-float(np.linalg.norm(verts[e[0]] - verts[e[1]])), e[0], e[1])

    edge_faces: dict[tuple[int, int], list[int]] = {}
    for fi, f in enumerate(faces):
        for k in range(3):
            edge_faces.setdefault(key(f[k], f[(k + 1) % 3]), []).append(fi)
    heap = [entry(e) for e, fl in edge_faces.items() if len(fl) == 2]
    heapq.heapify(heap)
    while len(verts) < target:
        _, a, b = heapq.heappop(heap)
        fl = edge_faces.get((a, b))
        if fl is None or len(fl) != 2:
            continue
        m = len(verts)
        verts.append(0.5 * (verts[a] + verts[b]))
        for arr in attrs:
            arr.append(arr[a] if isinstance(arr[a], (int, np.integer)) else 0.5 * (arr[a] + arr[b]))
        del edge_faces[(a, b)]
        for fi in fl:
            f = faces[fi]
            k = next(i for i in range(3) if key(f[i], f[(i + 1) % 3]) == (a, b))
            p, q, r = f[k], f[(k + 1) % 3], f[(k + 2) % 3]   # edge p->q, opposite vertex r
            faces[fi] = [p, m, r]
            faces.append([m, q, r])
            nf = len(faces) - 1
            e_qr = key(q, r)
            edge_faces[e_qr] = [nf if x == fi else x for x in edge_faces[e_qr]]
            edge_faces.setdefault(key(p, m), []).append(fi)
            edge_faces.setdefault(key(m, q), []).append(nf)
            edge_faces.setdefault(key(m, r), []).extend([fi, nf])
            heapq.heappush(heap, entry(key(m, r)))
        heapq.heappush(heap, entry(key(a, m)))
        heapq.heappush(heap, entry(key(m, b)))
    return (np.asarray(verts), np.asarray(faces, dtype=np.int64), [np.asarray(a) for a in attrs])


def _vertex_adjacency(faces, n):
    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2], faces[:, 0]])
    j = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1], faces[:, 2]])
    adj = scipy.sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    adj.data[:] = 1.0
    deg = np.asarray(adj.sum(axis=1)).ravel()
    return scipy.sparse.diags(1.0 / deg) @ adj


def _smooth(values, avg, iterations, lam=0.5):
    out = np.asarray(values, dtype=np.float64)
    shape = out.shape
    out = out.reshape(shape[0], -1)
    for _ in range(iterations):
        out = (1.0 - lam) * out + lam * (avg @ out)
    return out.reshape(shape)


def _vertex_normals(verts, faces):
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    vn = np.zeros_like(verts)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    norm = np.linalg.norm(vn, axis=1, keepdims=True)
    return vn / np.maximum(norm, 1e-12)


def _permutation_for(specials, n):
    """``order`` with ``new_verts = old_verts[order]`` putting each ``old`` index at ``new``."""
    order = np.arange(n)
    for old, new in specials:
        p = int(np.flatnonzero(order == old)[0])
        order[p], order[new] = order[new], order[p]
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    return order, inverse


def _chain_weights(coord, stations, joints, widths, num_joints):
    """Skinning weights along a chain: ``joints[0]`` below ``stations[0]`` ... ``joints[-1]`` above."""
    coord = np.asarray(coord, dtype=np.float64)
    w = np.zeros((len(coord), num_joints))
    w[:, joints[0]] = 1.0
    for st, jnt, h in zip(stations, joints[1:], widths):
        t = _smoothstep((coord - st + h) / (2.0 * h))[:, None]
        onehot = np.zeros(num_joints)
        onehot[jnt] = 1.0
        w = (1.0 - t) * w + t * onehot
    return w


def _blend_into(w, mask, joint_idx):
    mask = np.asarray(mask, dtype=np.float64)[:, None]
    onehot = np.zeros(w.shape[1])
    onehot[joint_idx] = 1.0
    return (1.0 - mask) * w + mask * onehot


def _prune_weights(w, keep=4, floor=1e-3):
    w = np.array(w, dtype=np.float64)
    w[w < floor] = 0.0
    if w.shape[1] > keep:
        idx = np.argsort(-w, axis=1)[:, keep:]
        np.put_along_axis(w, idx, 0.0, axis=1)
    return w / w.sum(axis=1, keepdims=True)


def _regressor_from_targets(verts, targets, candidate_sets, reg=0.05):
    """Sparse convex-combination rows (one per target) over the given candidate vertices."""
    rows = np.zeros((len(targets), len(verts)))
    for k, (target, cand) in enumerate(zip(targets, candidate_sets)):
        cand = np.asarray(cand)
        w = _convex_fit(verts[cand], target, reg=reg)
        w[w < 1e-4] = 0.0
        rows[k, cand] = w / w.sum()
    return rows


def _surrounding(verts, point, per_octant, allowed=None):
    """The ``per_octant`` nearest vertices in each of the 8 octants around ``point``.

    Picking candidates on all sides makes ``point`` lie inside their convex hull, so a convex
    combination can reproduce it exactly.
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


def _pose_blend_shapes(verts, normals, joints, weights, parents, sigmas, twist=0.06, bulge=0.006):
    """posedirs (V, 3, 9 * (J - 1)): smooth correctives around each non-root joint.

    For joint k with pose feature P = R_k - I the offset is ``b_v * (twist * P (v - J_k) - bulge *
    trace(P) * n_v)``: a slight extra rotation near the joint plus an outward bulge that grows with
    the bend angle (trace(R - I) = 2 cos(theta) - 2), with ``b_v`` a Gaussian bump around the joint
    restricted to the two body parts it connects.
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


# ---------------------------------------------------------------------------------------------
# Body (SMPL topology)
# ---------------------------------------------------------------------------------------------

_TORSO, _LLEG, _RLEG, _LARM, _RARM = 0, 1, 2, 3, 4

# Canonical body, floor at y = 0, facing +z, left side at +x, T-pose.
# Torso / neck / head cross sections: (y, rx, rz, z_centre, superellipse power)
_TORSO_TABLE = [
    (0.815, 0.158, 0.094, -0.012, 2.2),
    (0.850, 0.165, 0.103, -0.014, 2.2),
    (0.900, 0.171, 0.108, -0.014, 2.3),
    (0.970, 0.163, 0.100, -0.008, 2.3),
    (1.050, 0.140, 0.090, -0.002, 2.3),
    (1.150, 0.146, 0.097, 0.004, 2.4),
    (1.250, 0.160, 0.104, 0.006, 2.4),
    (1.320, 0.172, 0.098, 0.000, 2.4),
    (1.360, 0.182, 0.090, -0.010, 2.2),
    (1.440, 0.188, 0.082, -0.016, 2.2),
    (1.470, 0.168, 0.072, -0.020, 2.2),
    (1.490, 0.115, 0.062, -0.022, 2.1),
    (1.505, 0.064, 0.056, -0.018, 2.0),
    (1.530, 0.054, 0.052, -0.010, 2.0),
    (1.550, 0.056, 0.056, -0.002, 2.0),
    (1.565, 0.066, 0.080, 0.020, 2.0),
    (1.585, 0.071, 0.089, 0.019, 2.0),
    (1.610, 0.075, 0.094, 0.015, 2.0),
    (1.640, 0.078, 0.100, 0.010, 2.0),
    (1.680, 0.077, 0.097, 0.005, 2.0),
]
_HEAD_DOME = (1.680, 0.065)  # dome above y=1.68 (elliptic, height 0.065) up to the pole
# Left leg cross sections: (y, rx, rz, x_centre, z_centre)
_LEG_TABLE = [
    (0.790, 0.078, 0.092, 0.084, -0.012),
    (0.700, 0.071, 0.080, 0.092, -0.003),
    (0.600, 0.060, 0.066, 0.096, 0.004),
    (0.520, 0.050, 0.054, 0.097, 0.008),
    (0.450, 0.050, 0.056, 0.098, 0.000),
    (0.380, 0.052, 0.060, 0.098, -0.010),
    (0.280, 0.043, 0.050, 0.098, -0.010),
    (0.160, 0.034, 0.040, 0.098, -0.012),
    (0.100, 0.033, 0.038, 0.098, -0.016),
]
# Foot rings (y, rx, z_back, z_front, x_centre) below the ankle, then the sole at y = 0.
_FOOT_TABLE = [
    (0.075, 0.037, -0.058, 0.036, 0.098),
    (0.056, 0.042, -0.068, 0.085, 0.100),
    (0.040, 0.045, -0.072, 0.135, 0.102),
    (0.024, 0.047, -0.074, 0.175, 0.104),
    (0.010, 0.047, -0.072, 0.192, 0.104),
    (0.000, 0.044, -0.066, 0.188, 0.104),
]
# Left arm cross sections along x: (x, ry, rz, y_centre, z_centre)
_ARM_TABLE = [
    (0.205, 0.056, 0.058, 1.405, -0.016),
    (0.260, 0.050, 0.052, 1.410, -0.016),
    (0.330, 0.042, 0.044, 1.410, -0.018),
    (0.430, 0.036, 0.038, 1.410, -0.020),
    (0.520, 0.038, 0.041, 1.410, -0.018),
    (0.640, 0.028, 0.034, 1.410, -0.012),
    (0.680, 0.024, 0.032, 1.410, -0.010),
    (0.720, 0.018, 0.043, 1.406, -0.006),
    (0.780, 0.017, 0.047, 1.402, 0.000),
    (0.830, 0.013, 0.042, 1.400, 0.002),
    (0.860, 0.010, 0.032, 1.400, 0.002),
]
_ARM_TIP_X = 0.880

# Desired (canonical) joint locations; the regressor reproduces them as convex vertex combinations.
_BODY_JOINTS = {
    0: (0.0, 0.935, -0.012), 1: (0.085, 0.855, -0.010), 3: (0.0, 1.045, -0.018),
    4: (0.097, 0.500, 0.002), 6: (0.0, 1.175, -0.010), 7: (0.098, 0.085, -0.024),
    9: (0.0, 1.240, -0.006), 10: (0.102, 0.020, 0.105), 12: (0.0, 1.480, -0.024),
    13: (0.075, 1.420, -0.014), 15: (0.0, 1.565, 0.000), 16: (0.185, 1.408, -0.016),
    18: (0.440, 1.410, -0.020), 20: (0.680, 1.410, -0.010), 22: (0.765, 1.404, -0.004),
}
for _k, _p in list(_BODY_JOINTS.items()):
    if _p[0] > 0:
        _BODY_JOINTS[_k + 1] = (-_p[0], _p[1], _p[2])
del _k, _p

_BODY_N = 40            # torso ring size (multiple of 4)
_BODY_TORSO_STEP = 0.017
_BODY_LEG_N = 32
_BODY_LEG_STEP = 0.023
_BODY_ARM_N = 28
_BODY_ARM_STEP = 0.0215
_BODY_CHORD = 11        # interior crotch-chord vertices
_NOSE_Y, _EYE_Y, _EAR_Y = 1.615, 1.645, 1.628


def _build_body_canonical():
    """Canonical body mesh before padding: returns builder outputs + keypoint vertex ids."""
    mb = _MeshBuilder()
    ex, ey, ez = np.eye(3)
    torso = _profile([row[:5] for row in _TORSO_TABLE])
    y0, y_dome = _TORSO_TABLE[0][0], _HEAD_DOME[0]
    dome_h = _HEAD_DOME[1]
    top = _TORSO_TABLE[-1]

    def torso_section(y):
        y = np.atleast_1d(y)
        out = torso(np.minimum(y, y_dome))
        above = y > y_dome
        if np.any(above):
            c = np.sqrt(np.clip(1.0 - ((y[above] - y_dome) / dome_h) ** 2, 0.0, 1.0))
            out[above, 0] = top[1] * c
            out[above, 1] = top[2] * c
            out[above, 2] = top[3] * c
            out[above, 3] = 2.0
        return out

    y_top = y_dome + dome_h
    length = _arclength(lambda t: torso_section(t), y0, y_top)
    n_rows = int(round(length / _BODY_TORSO_STEP))
    ys = _arclength_samples(lambda t: torso_section(t), y0, y_top, n_rows)
    rows = []
    for y in ys:
        rx, rz, zc, pw = torso_section(y)[0]
        rows.append(mb.ring(np.array([0.0, y, zc]), ez, ex, rz, rx, _BODY_N, part=_TORSO, coord=y,
                            power=pw))
    pole = mb.add([[0.0, y_top, 0.0]], _TORSO, centre=[0.0, y_top, 0.0], coord=y_top)

    # face features: nose bump (front), ears (sides), eye dents
    def nearest_row(y):
        return int(np.argmin(np.abs(ys - y)))

    r_nose, r_eye, r_ear = nearest_row(_NOSE_Y), nearest_row(_EYE_Y), nearest_row(_EAR_Y)
    n4 = _BODY_N // 4
    nose = rows[r_nose][0]
    ear_l, ear_r = rows[r_ear][n4], rows[r_ear][3 * n4]
    eye_l, eye_r = rows[r_eye][3], rows[r_eye][_BODY_N - 3]
    head_ids = np.concatenate([rows[r] for r in range(len(rows)) if ys[r] > 1.50])
    hp = mb.pos[head_ids]
    p_nose, p_ear_l, p_ear_r = mb.pos[nose].copy(), mb.pos[ear_l].copy(), mb.pos[ear_r].copy()
    ang = np.arctan2(hp[:, 0], hp[:, 2])
    # nose: forward bump around the nose vertex, elongated vertically
    b = np.exp(-0.5 * ((hp[:, 1] - p_nose[1]) / 0.009) ** 2 - 0.5 * (ang / 0.10) ** 2)
    b *= (hp[:, 2] > 0)
    hp[:, 2] += 0.017 * b
    # ears: sideways bumps
    for p_ear, sgn in ((p_ear_l, 1.0), (p_ear_r, -1.0)):
        d2 = ((hp[:, 1] - p_ear[1]) / 0.022) ** 2 + ((hp[:, 2] - p_ear[2]) / 0.016) ** 2
        e = np.exp(-0.5 * d2) * (sgn * hp[:, 0] > 0)
        hp[:, 0] += sgn * 0.012 * e
    # eyes: slight sockets, brow above
    for eye in (eye_l, eye_r):
        pe = mb.pos[eye]
        d2 = ((hp[:, 0] - pe[0]) / 0.014) ** 2 + ((hp[:, 1] - pe[1]) / 0.010) ** 2
        inward = np.exp(-0.5 * d2) * (hp[:, 2] > 0)
        hp[:, 2] -= 0.004 * inward
    mb.pos[head_ids] = hp

    # torso bands (arm holes cut out of the shoulder rows)
    y_sh = _BODY_JOINTS[16][1]
    hole_rows = [r for r in range(len(rows)) if abs(ys[r] - y_sh) <= 0.056]
    r0, r1 = hole_rows[0], hole_rows[-1]
    half = 4
    holes = {_LARM: (n4 - half, n4 + half), _RARM: (3 * n4 - half, 3 * n4 + half)}
    for r in range(len(rows) - 1):
        skip = []
        if r0 <= r < r1:
            for c0, c1 in holes.values():
                skip.extend(range(c0, c1))
        mb.quad_band(rows[r], rows[r + 1], skip=skip)
    mb.bridge(rows[-1], np.arange(_BODY_N) / _BODY_N, pole, [0.0])

    # legs: split the crotch ring (reversed, legs go down) with a front-to-back chord
    bottom = list(rows[0])
    rev = [bottom[0]] + bottom[:0:-1]
    p_front, p_back = mb.pos[bottom[0]], mb.pos[bottom[_BODY_N // 2]]
    t = np.linspace(0, 1, _BODY_CHORD + 2)[1:-1]
    chord = p_front[None] + t[:, None] * (p_back - p_front)[None]
    chord[:, 1] += 0.006 * np.sin(np.pi * t)
    right_loop, left_loop = mb.split_loop(rev, 0, _BODY_N // 2, chord, _TORSO, coord=y0)
    leg = _profile(_LEG_TABLE)
    leg_top, leg_bot = _LEG_TABLE[0][0], _LEG_TABLE[-1][0]
    n_leg_rows = int(round(_arclength(lambda t: leg(-t), -leg_top, -leg_bot) / _BODY_LEG_STEP)) + 1
    leg_ys = -_arclength_samples(lambda t: leg(-t), -leg_top, -leg_bot, n_leg_rows - 1)
    leg_ys = np.append(leg_ys, leg_bot)
    feet = {}
    for part, loop, sgn in ((_LLEG, left_loop, 1.0), (_RLEG, right_loop, -1.0)):
        rx, rz, xc, zc = leg(leg_ys[0])
        centre = np.array([sgn * xc, leg_ys[0], zc])
        u_loop = mb.loop_params(loop, centre, ex, ez)
        prev, prev_u = loop, u_loop
        d0 = mb.pos[loop[0]] - centre
        phase = np.arctan2(d0[2], d0[0])
        ring_u = np.arange(_BODY_LEG_N) / _BODY_LEG_N
        for y in leg_ys:
            rx, rz, xc, zc = leg(y)
            c = np.array([sgn * xc, y, zc])
            ring = mb.ring(c, ex, ez, rx, rz, _BODY_LEG_N, phase=phase, part=part, coord=y)
            mb.bridge(prev, prev_u, ring, ring_u)
            prev, prev_u = ring, ring_u
        for y, rx, zb, zf, xc in _FOOT_TABLE:
            c = np.array([sgn * xc, y, 0.5 * (zb + zf)])
            ring = mb.ring(c, ex, ez, rx, 0.5 * (zf - zb), _BODY_LEG_N, phase=phase, part=part,
                           coord=y, power=2.3)
            mb.bridge(prev, prev_u, ring, ring_u)
            prev, prev_u = ring, ring_u
        y, rx, zb, zf, xc = _FOOT_TABLE[-1]
        c = np.array([sgn * xc, 0.0, 0.5 * (zb + zf)])
        inner = mb.ring(c, ex, ez, 0.55 * rx, 0.55 * 0.5 * (zf - zb), _BODY_LEG_N, phase=phase,
                        part=part, coord=0.0, power=2.3)
        mb.bridge(prev, prev_u, inner, ring_u)
        sole = mb.add([c], part, centre=c, coord=0.0)
        mb.bridge(inner, ring_u, sole, [0.0])
        feet[part] = sole

    # arms out of the shoulder holes
    arm = _profile(_ARM_TABLE)
    x_start, x_last = _ARM_TABLE[0][0], _ARM_TABLE[-1][0]
    n_arm_rows = int(round(_arclength(arm, x_start, x_last) / _BODY_ARM_STEP)) + 1
    arm_xs = np.append(_arclength_samples(arm, x_start, x_last, n_arm_rows - 1), x_last)
    tip_angles = np.deg2rad([35.0, 62.0, 80.0])
    for part, (c0, c1), sgn in ((_LARM, holes[_LARM], 1.0), (_RARM, holes[_RARM], -1.0)):
        loop = mb.hole_loop(rows, r0, r1, c0, c1)
        t_dir = sgn * ex
        e1, e2 = ey, np.cross(t_dir, ey)
        ry, rz, yc, zc = arm(x_start)
        centre = np.array([sgn * x_start, yc, zc])
        u_loop = mb.loop_params(loop, centre, e1, e2)
        d0 = mb.pos[loop[0]] - centre
        phase = np.arctan2(d0 @ e2, d0 @ e1)
        ring_u = np.arange(_BODY_ARM_N) / _BODY_ARM_N
        prev, prev_u = loop, u_loop
        for x in arm_xs:
            ry, rz, yc, zc = arm(x)
            c = np.array([sgn * x, yc, zc])
            ring = mb.ring(c, e1, e2, ry, rz, _BODY_ARM_N, phase=phase, part=part, coord=x)
            mb.bridge(prev, prev_u, ring, ring_u)
            prev, prev_u = ring, ring_u
        ry, rz, yc, zc = arm(x_last)
        for a in tip_angles:
            x = x_last + (_ARM_TIP_X - x_last) * np.sin(a)
            c = np.array([sgn * x, yc, zc])
            ring = mb.ring(c, e1, e2, ry * np.cos(a), rz * np.cos(a), _BODY_ARM_N, phase=phase,
                           part=part, coord=x)
            mb.bridge(prev, prev_u, ring, ring_u)
            prev, prev_u = ring, ring_u
        tip = mb.add([[sgn * _ARM_TIP_X, yc, zc]], part, centre=[sgn * _ARM_TIP_X, yc, zc],
                     coord=_ARM_TIP_X)
        mb.bridge(prev, prev_u, tip, [0.0])

    arrays, remap = mb.finish()
    # fair the junctions (crotch, shoulders) with a few masked Laplacian smoothing steps
    verts, faces = arrays[0], arrays[1]
    x, y = verts[:, 0], verts[:, 1]
    crotch = _bump(y, y0 - 0.01, 0.035) * (1.0 - _ramp(np.abs(x), 0.12, 0.17))
    shoulder = (_bump(np.abs(x), 0.195, 0.03) * _bump(y, _BODY_JOINTS[16][1], 0.05))
    mask = np.clip(crotch + shoulder, 0.0, 1.0)[:, None]
    avg = _vertex_adjacency(faces, len(verts))
    for _ in range(12):
        verts = verts + 0.5 * mask * (avg @ verts - verts)
    arrays = (verts,) + tuple(arrays[1:])
    keypoints = {"nose": nose, "left_eye": eye_l, "right_eye": eye_r, "left_ear": ear_l,
                 "right_ear": ear_r, "head_top": pole[0]}
    return arrays, {k: int(remap[v]) for k, v in keypoints.items()}


@functools.lru_cache(maxsize=None)
def _body_base():
    """Canonical body with exact vertex count, keypoints at their indices, weights, regressor."""
    (verts, faces, part, centre, coord), kp = _build_body_canonical()
    if len(verts) > SMPL_NUM_VERTS:
        raise RuntimeError(f"body construction produced {len(verts)} > {SMPL_NUM_VERTS} vertices")
    verts, faces, (part, centre, coord) = _split_longest_edges(
        verts, faces, [part, centre, coord], SMPL_NUM_VERTS)
    order, inverse = _permutation_for(
        [(kp[name], idx) for name, idx in SMPL_FACE_KEYPOINT_VERTICES.items()], len(verts))
    verts, part, centre, coord = verts[order], part[order], centre[order], coord[order]
    faces = inverse[faces]
    head_top = int(inverse[kp["head_top"]])
    avg = _vertex_adjacency(faces, len(verts))

    # -- skinning weights ------------------------------------------------------------------
    J = {k: np.asarray(v) for k, v in _BODY_JOINTS.items()}
    nj = 24
    x, y, z = verts.T
    w = np.zeros((len(verts), nj))
    m = part == _TORSO
    wt = _chain_weights(y[m], [J[3][1], J[6][1], J[9][1], J[12][1], J[15][1] - 0.005],
                        [0, 3, 6, 9, 12, 15], [0.05, 0.05, 0.04, 0.035, 0.03], nj)
    xs, ys_ = x[m], y[m]
    collar = _ramp(np.abs(xs), 0.07, 0.15) * _ramp(ys_, J[9][1] + 0.03, J[9][1] + 0.11)
    wt = _blend_into(wt, collar * (xs > 0), 13)
    wt = _blend_into(wt, collar * (xs < 0), 14)
    hip = 0.6 * _ramp(ys_, J[1][1] + 0.05, _TORSO_TABLE[0][0]) * _ramp(np.abs(xs), 0.01, 0.07)
    wt = _blend_into(wt, hip * (xs > 0), 1)
    wt = _blend_into(wt, hip * (xs < 0), 2)
    w[m] = wt
    for p_, side in ((_LLEG, 0), (_RLEG, 1)):
        m = part == p_
        hipj, knee, ankle, foot = (1 + side, 4 + side, 7 + side, 10 + side)
        wl = _chain_weights(-y[m], [-(_TORSO_TABLE[0][0] + 0.025), -J[4][1], -J[7][1]],
                            [0, hipj, knee, ankle], [0.06, 0.06, 0.045], nj)
        toes = _ramp(z[m], J[10][2] - 0.05, J[10][2] + 0.04) * _ramp(y[m], J[7][1], J[7][1] - 0.04)
        wl = _blend_into(wl, toes, foot)
        w[m] = wl
    for p_, side in ((_LARM, 0), (_RARM, 1)):
        m = part == p_
        chain = [13 + side, 16 + side, 18 + side, 20 + side, 22 + side]
        w[m] = _chain_weights(np.abs(x[m]), [J[16][0], J[18][0], J[20][0], J[22][0]], chain,
                              [0.05, 0.06, 0.045, 0.03], nj)
    w = _prune_weights(_smooth(w, avg, 10))

    # -- joint regressor (24 x V) ----------------------------------------------------------
    targets = np.array([J[k] for k in range(nj)], dtype=np.float64)
    allowed = {
        0: part == _TORSO, 3: part == _TORSO, 6: part == _TORSO, 9: part == _TORSO,
        12: part == _TORSO, 13: part == _TORSO, 14: part == _TORSO, 15: part == _TORSO,
    }
    cands = []
    for k in range(nj):
        cands.append(_surrounding(verts, targets[k], 4, allowed.get(k)))
    jreg = _regressor_from_targets(verts, targets, cands)

    # -- external regressors (H36M, COCO): targets + candidate vertices ---------------------
    nose = SMPL_FACE_KEYPOINT_VERTICES["nose"]
    ext = {
        "pelvis": (np.array([0.0, 0.875, -0.012]), 8, part == _TORSO),
        "r_hip": (J[2] + [-0.012, -0.005, 0.0], 8, None), "l_hip": (J[1] + [0.012, -0.005, 0.0], 8, None),
        "r_knee": (J[5], 8, None), "l_knee": (J[4], 8, None),
        "r_ankle": (J[8], 8, None), "l_ankle": (J[7], 8, None),
        "torso": (np.array([0.0, 1.12, -0.015]), 8, part == _TORSO),
        "neck": (np.array([0.0, 1.46, -0.02]), 8, part == _TORSO),
        "nose": (verts[nose] - [0.0, 0.0, 0.012], 6, None),
        "head_top": (verts[head_top] - [0.0, 0.012, 0.0], 6, None),
        "l_shoulder": (J[16] + [0.01, 0.0, 0.0], 8, None), "r_shoulder": (J[17] - [0.01, 0.0, 0.0], 8, None),
        "l_elbow": (J[18], 8, None), "r_elbow": (J[19], 8, None),
        "l_wrist": (J[20], 8, None), "r_wrist": (J[21], 8, None),
    }
    ext_rows, ext_targets = {}, {}
    for name, (target, count, allow) in ext.items():
        cand = _surrounding(verts, target, 1, allow)
        row = _regressor_from_targets(verts, [target], [cand], reg=0.2)[0]
        ext_rows[name] = row
        ext_targets[name] = target
    return {
        "verts": verts, "faces": faces, "part": part, "centre": centre, "coord": coord,
        "avg": avg, "weights": w, "J_regressor": jreg, "ext_rows": ext_rows, "ext_targets": ext_targets, "head_top": head_top,
    }


def _radial_field(verts, centre, avg, faces):
    """Outward offsets of the size of the local cross-section radius, smooth across junctions.

    ``|v - ring centre|`` along the vertex normal: unlike ``v - centre`` it does not jump where
    rings of different tubes meet (crotch chord, arm holes, finger roots).
    """
    radius = _smooth(np.linalg.norm(verts - centre, axis=1), avg, 4)
    return radius[:, None] * _vertex_normals(verts, faces)


def _body_fields(verts, centre, part, faces, avg):
    """Smooth deformation fields (V, 3, 10) used as shape directions and for gender/seed variants."""
    x, y, z = verts.T
    radial = _radial_field(verts, centre, avg, faces)
    arm = np.isin(part, (_LARM, _RARM))
    leg = np.isin(part, (_LLEG, _RLEG))
    f = np.zeros((len(verts), 3, 10))
    pelvis = np.array([0.0, 0.935, 0.0])
    # 0: overall size
    f[:, :, 0] = 0.035 * (verts - pelvis)
    # 1: weight / girth (belly and torso most, head least)
    torso_gain = np.where(part == _TORSO, 1.0 - 0.8 * _ramp(y, 1.45, 1.55), 0.0)
    limb_gain = np.where(leg, 0.8 - 0.5 * _ramp(y, 0.5, 0.1), 0.0) + np.where(
        arm, 0.7 - 0.5 * _ramp(np.abs(x), 0.6, 0.75), 0.0)
    gain = torso_gain + limb_gain
    f[:, :, 1] = 0.06 * gain[:, None] * radial
    # 2: leg length (everything below the hips moves down, feet most)
    below = _ramp(y, 0.90, 0.75) * np.clip((0.90 - y) / 0.85, 0.0, 1.0)
    f[:, 1, 2] = -0.045 * below
    # 3: torso length (everything above the waist moves up)
    f[:, 1, 3] = 0.03 * _ramp(y, 1.0, 1.3)
    # 4: shoulder width and arm length
    sh = _ramp(np.abs(x), 0.05, 0.17) * _ramp(y, 1.28, 1.38)
    f[:, 0, 4] = np.sign(x) * (0.02 * sh + 0.03 * arm * np.clip((np.abs(x) - 0.2) / 0.68, 0, 1))
    # 5: belly
    front = np.clip(radial[:, 2] / 0.1, 0.0, 1.0) * (part == _TORSO)
    f[:, :, 5] = 0.022 * (_bump(y, 1.1, 0.07) * front)[:, None] * _vertex_normals(verts, faces)
    # 6: head size
    head = _ramp(y, 1.50, 1.56)
    f[:, :, 6] = 0.06 * head[:, None] * (verts - np.array([0.0, 1.58, 0.01]))
    # 7: hip width
    hips = _bump(y, 0.88, 0.09) * (1.0 - arm)
    f[:, 0, 7] = 0.014 * np.tanh(x / 0.06) * hips
    # 8: chest depth
    chest = _bump(y, 1.27, 0.08) * (part == _TORSO)
    f[:, 2, 8] = 0.016 * chest * np.clip(radial[:, 2] / 0.1, -0.3, 1.0)
    # 9: limb muscularity
    muscle = np.where(arm, _ramp(np.abs(x), 0.19, 0.26) * (1.0 - _ramp(np.abs(x), 0.66, 0.74)), 0.0)
    muscle = muscle + np.where(leg, _ramp(y, 0.81, 0.74) * (1.0 - _ramp(y, 0.2, 0.08)), 0.0)
    f[:, :, 9] = 0.04 * muscle[:, None] * radial
    return _smooth(f, avg, 6)


# ---------------------------------------------------------------------------------------------
# Hand (MANO topology, right hand)
# ---------------------------------------------------------------------------------------------
# Right hand, wrist joint at the origin, fingers along -x, palm facing -y, thumb towards +z (the
# right hand of a T-posed SMPL body, palm down).

_PALM, _THUMB = 0, 5
# name -> (part id, MANO joints (base, middle, tip side), finger length from the knuckle ring,
#          radius at the base, radius near the tip)
_FINGERS = {
    "little": (3, (7, 8, 9), 0.057, 0.0082, 0.0066),
    "ring": (4, (10, 11, 12), 0.073, 0.0091, 0.0073),
    "middle": (2, (4, 5, 6), 0.078, 0.0097, 0.0078),
    "index": (1, (1, 2, 3), 0.069, 0.0094, 0.0076),
}
_HAND_WRIST_X = 0.006
# palm cross sections along x: (x, half width (z), half thickness dorsal, palmar, y centre, z centre)
_PALM_TABLE = [
    (0.006, 0.030, 0.017, 0.017, 0.000, 0.000),
    (0.000, 0.031, 0.017, 0.018, 0.000, 0.000),
    (-0.030, 0.037, 0.015, 0.018, 0.000, 0.001),
    (-0.060, 0.041, 0.014, 0.016, 0.000, 0.000),
    (-0.095, 0.043, 0.012, 0.013, 0.000, 0.000),
]
_HAND_KNUCKLE_X = -0.095
_HAND_PALM_ROWS = 8
_HAND_PALM_N = 24
_HAND_FINGER_N = 10
_HAND_FINGER_STEP = 0.0088
_HAND_THUMB_DIR = (-0.74, -0.30, 0.58)
_HAND_THUMB_TABLE = [  # (s along the thumb axis from the CMC joint, radius dorsal, radius side)
    (0.028, 0.0140, 0.0160),
    (0.045, 0.0112, 0.0122),
    (0.070, 0.0098, 0.0104),
    (0.090, 0.0087, 0.0092),
]
_HAND_THUMB_TIP = 0.101
_HAND_THUMB_STEP = 0.0068


def _palm_ring(mb, x, half_w, a_dors, a_palm, yc, zc, count, part=_PALM, power=2.5):
    """Palm cross section: +z end, dorsal side (+y) towards -z, -z end, palmar side back to +z.

    Dorsal / palmar vertices are evenly spaced in z so the four fingers get equal shares.
    """
    k_side = count // 2 - 1
    k = np.arange(1, k_side + 1)
    zk = half_w * (2.0 * k / (k_side + 1) - 1.0)
    prof = (1.0 - np.abs(zk / half_w) ** power) ** (1.0 / power)
    pts = [[x, yc, zc + half_w]]
    pts += [[x, yc + a_dors * prof[i], zc + zk[i]] for i in range(k_side - 1, -1, -1)]
    pts += [[x, yc, zc - half_w]]
    pts += [[x, yc - a_palm * prof[i], zc + zk[i]] for i in range(k_side)]
    return mb.add(np.asarray(pts), part, centre=[x, yc, zc], coord=x)


def _build_hand_canonical():
    mb = _MeshBuilder(capacity=1200)
    ex, ey, ez = np.eye(3)
    e1, e2 = ey, -ez            # frame for tubes along -x (e1 x e2 = -x)
    palm = _profile(_PALM_TABLE)
    half = _HAND_PALM_N // 2

    b, ad, ap, yc, zc = palm(_HAND_WRIST_X)
    wrist = mb.ring(np.array([_HAND_WRIST_X, yc, zc]), e1, e2, ad, b, MANO_WRIST_LOOP,
                    phase=-0.5 * np.pi, part=_PALM, coord=_HAND_WRIST_X, power=2.2)
    xs = np.linspace(0.0, _HAND_KNUCKLE_X, _HAND_PALM_ROWS)
    rows = [_palm_ring(mb, x, *palm(x), _HAND_PALM_N) for x in xs]
    centre0 = np.array([_HAND_WRIST_X, yc, zc])
    centre1 = np.array([xs[0], palm(xs[0])[3], palm(xs[0])[4]])
    mb.bridge(wrist, mb.loop_params(wrist, centre0, e1, e2), rows[0],
              mb.loop_params(rows[0], centre1, e1, e2))
    r0, r1, c0, c1 = 1, 4, -2, 2                 # thumb hole on the +z side near the wrist
    for r in range(len(rows) - 1):
        mb.quad_band(rows[r], rows[r + 1], skip=range(c0, c1) if r0 <= r < r1 else ())

    # split the knuckle ring into four finger loops with three dorsal-palmar chords
    top = list(rows[-1])

    def chord(loop, ia, ib):
        pa, pb = mb.pos[loop[ia]], mb.pos[loop[ib]]
        return (0.5 * (pa + pb))[None]

    def pos_in(loop, vid):
        return loop.index(vid)

    ring_side, thumb_side = mb.split_loop(top, half // 2, half + half // 2,
                                          chord(top, half // 2, half + half // 2), _PALM,
                                          coord=_HAND_KNUCKLE_X)
    # ring_side holds the -z half (little + ring); split at the dorsal / palmar quarter points
    d_v, p_v = top[half // 2 + half // 4], top[half + half // 4]
    ia, ib = pos_in(ring_side, d_v), pos_in(ring_side, p_v)
    little_loop, ring_loop = mb.split_loop(ring_side, ia, ib, chord(ring_side, ia, ib), _PALM,
                                           coord=_HAND_KNUCKLE_X)
    d_v, p_v = top[half // 4], top[half + 3 * half // 4]
    ia, ib = sorted((pos_in(thumb_side, d_v), pos_in(thumb_side, p_v)))
    index_loop, middle_loop = mb.split_loop(thumb_side, ia, ib, chord(thumb_side, ia, ib), _PALM,
                                            coord=_HAND_KNUCKLE_X)
    loops = sorted([little_loop, ring_loop, middle_loop, index_loop],
                   key=lambda lp: mb.pos[lp, 2].mean())
    joints = {0: np.zeros(3)}
    tips = {}
    ring_u = np.arange(_HAND_FINGER_N) / _HAND_FINGER_N
    cap_angles = np.deg2rad([40.0, 70.0])
    for name, loop in zip(("little", "ring", "middle", "index"), loops):
        part, (j1, j2, j3), length, r_base, r_tip = _FINGERS[name]
        zf = float(mb.pos[loop, 2].mean())
        yf = float(mb.pos[loop, 1].mean())
        x_tip = _HAND_KNUCKLE_X - length
        joints[j1] = np.array([_HAND_KNUCKLE_X + 0.010, yf, zf])
        joints[j2] = np.array([_HAND_KNUCKLE_X - 0.36 * length, yf, zf])
        joints[j3] = np.array([_HAND_KNUCKLE_X - 0.66 * length, yf, zf])
        centre = np.array([_HAND_KNUCKLE_X, yf, zf])
        prev, prev_u = loop, mb.loop_params(loop, centre, e1, e2)
        d0 = mb.pos[loop[0]] - centre
        phase = np.arctan2(d0 @ e2, d0 @ e1)
        x_start, x_end = _HAND_KNUCKLE_X - 0.007, x_tip + r_tip
        n_rings = int(round((x_start - x_end) / _HAND_FINGER_STEP)) + 1
        for x in np.linspace(x_start, x_end, n_rings):
            t = (x_start - x) / (x_start - x_end)
            r = r_base + (r_tip - r_base) * t
            c = np.array([x, yf, zf])
            ring = mb.ring(c, e1, e2, 0.92 * r, r, _HAND_FINGER_N, phase=phase, part=part, coord=x)
            mb.bridge(prev, prev_u, ring, ring_u)
            prev, prev_u = ring, ring_u
        for a in cap_angles:
            x = x_end - r_tip * np.sin(a)
            c = np.array([x, yf, zf])
            ring = mb.ring(c, e1, e2, 0.92 * r_tip * np.cos(a), r_tip * np.cos(a), _HAND_FINGER_N,
                           phase=phase, part=part, coord=x)
            mb.bridge(prev, prev_u, ring, ring_u)
            prev, prev_u = ring, ring_u
        if name == "middle":   # two adjacent tip vertices (MANO's 444 and 445)
            tip = mb.add([[x_tip, yf + 0.0022, zf], [x_tip, yf - 0.0022, zf]], part,
                         centre=[x_tip, yf, zf], coord=x_tip)
            mb.bridge(prev, prev_u, tip, [0.0, 0.5])
        else:
            tip = mb.add([[x_tip, yf, zf]], part, centre=[x_tip, yf, zf], coord=x_tip)
            mb.bridge(prev, prev_u, tip, [0.0])
        tips[name] = [int(t) for t in tip]

    # thumb out of the palm-side hole
    hole = mb.hole_loop(rows, r0, r1, c0, c1)
    h_centre = mb.pos[hole].mean(axis=0)
    d = _normalize(np.asarray(_HAND_THUMB_DIR))
    base = h_centre - 0.020 * d
    t1 = _normalize(ey - (ey @ d) * d)
    t2 = np.cross(d, t1)
    joints[13] = base
    joints[14] = base + 0.042 * d
    joints[15] = base + 0.072 * d
    thumb = _profile(_HAND_THUMB_TABLE)
    s0, s1 = _HAND_THUMB_TABLE[0][0], _HAND_THUMB_TABLE[-1][0]
    n_rings = int(round((s1 - s0) / _HAND_THUMB_STEP)) + 1
    n_th = len(hole)
    prev, prev_u = hole, mb.loop_params_arclength(hole)
    dh = mb.pos[hole[0]] - (base + s0 * d)
    phase = np.arctan2(dh @ t2, dh @ t1)
    ring_u = np.arange(n_th) / n_th
    for sv in np.linspace(s0, s1, n_rings):
        ra, rb = thumb(sv)
        ring = mb.ring(base + sv * d, t1, t2, ra, rb, n_th, phase=phase, part=_THUMB, coord=sv)
        mb.bridge(prev, prev_u, ring, ring_u)
        prev, prev_u = ring, ring_u
    ra, rb = thumb(s1)
    cap = _HAND_THUMB_TIP - s1
    for a in cap_angles:
        sv = s1 + cap * np.sin(a)
        ring = mb.ring(base + sv * d, t1, t2, ra * np.cos(a), rb * np.cos(a), n_th, phase=phase,
                       part=_THUMB, coord=sv)
        mb.bridge(prev, prev_u, ring, ring_u)
        prev, prev_u = ring, ring_u
    tip = mb.add([base + _HAND_THUMB_TIP * d], _THUMB, coord=_HAND_THUMB_TIP)
    mb.bridge(prev, prev_u, tip, [0.0])
    tips["thumb"] = [int(tip[0])]

    arrays, remap = mb.finish()
    # fair the finger roots and the thumb root
    verts, faces = arrays[0], arrays[1]
    knuckles = _bump(verts[:, 0], _HAND_KNUCKLE_X - 0.002, 0.008)
    thumb_root = _bump(np.linalg.norm(verts - (h_centre + 0.006 * d), axis=1), 0.0, 0.014)
    mask = np.clip(knuckles + thumb_root, 0.0, 1.0)[:, None]
    avg = _vertex_adjacency(faces, len(verts))
    for _ in range(8):
        verts = verts + 0.5 * mask * (avg @ verts - verts)
    arrays = (verts,) + tuple(arrays[1:])
    tips = {k: [int(remap[v]) for v in vs] for k, vs in tips.items()}
    boundary = [int(remap[v]) for v in wrist]
    thumb_axis = (base, d)
    return arrays, tips, boundary, joints, thumb_axis


@functools.lru_cache(maxsize=None)
def _hand_base():
    (verts, faces, part, centre, coord), tips, boundary, joints, (t_base, t_dir) = \
        _build_hand_canonical()
    if len(verts) > MANO_NUM_VERTS:
        raise RuntimeError(f"hand construction produced {len(verts)} > {MANO_NUM_VERTS} vertices")
    verts, faces, (part, centre, coord) = _split_longest_edges(
        verts, faces, [part, centre, coord], MANO_NUM_VERTS)
    t = MANO_FINGERTIP_VERTICES
    specials = [(tips["thumb"][0], t["thumb"]), (tips["index"][0], t["index"]),
                (tips["middle"][0], t["middle"]), (tips["middle"][1], t["middle_alt"]),
                (tips["ring"][0], t["ring"]), (tips["little"][0], t["little"])]
    order, inverse = _permutation_for(specials, len(verts))
    verts, part, centre, coord = verts[order], part[order], centre[order], coord[order]
    faces = inverse[faces]
    boundary = inverse[np.asarray(boundary)]
    avg = _vertex_adjacency(faces, len(verts))
    nj = 16
    x, y, z = verts.T

    # skinning weights
    w = np.zeros((len(verts), nj))
    m = part == _PALM
    zf = {name: joints[_FINGERS[name][1][0]][2] for name in _FINGERS}
    share = np.stack([np.exp(-0.5 * ((z[m] - zf[n]) / 0.008) ** 2) for n in _FINGERS], axis=1)
    share /= share.sum(axis=1, keepdims=True)
    knuckle = _ramp(x[m], _HAND_KNUCKLE_X + 0.035, _HAND_KNUCKLE_X + 0.004)
    wp = np.zeros((m.sum(), nj))
    wp[:, 0] = 1.0 - knuckle
    for i, n in enumerate(_FINGERS):
        wp[:, _FINGERS[n][1][0]] += knuckle * share[:, i]
    thenar = 0.8 * np.exp(-0.5 * (np.linalg.norm(verts[m] - (t_base + 0.02 * t_dir), axis=1)
                                  / 0.014) ** 2)
    w[m] = _blend_into(wp, thenar, 13)
    for n, (part_id, (j1, j2, j3), length, _, _) in _FINGERS.items():
        m = part == part_id
        w[m] = _chain_weights(-x[m], [-joints[j2][0], -joints[j3][0]], [j1, j2, j3],
                              [0.009, 0.008], nj)
    m = part == _THUMB
    s_th = (verts[m] - t_base) @ t_dir
    w[m] = _chain_weights(s_th, [0.042, 0.072], [13, 14, 15], [0.011, 0.009], nj)
    w = _prune_weights(_smooth(w, avg, 6))

    targets = np.array([joints[k] for k in range(nj)])
    cands = [_surrounding(verts, targets[k], 3) for k in range(nj)]
    jreg = _regressor_from_targets(verts, targets, cands)
    return {"verts": verts, "faces": faces, "part": part, "centre": centre, "coord": coord,
            "avg": avg, "weights": w, "J_regressor": jreg, "boundary": boundary,
            "joints": targets, "thumb_axis": (t_base, t_dir)}


def _hand_fields(verts, centre, part, faces, avg, thumb_axis):
    x, y, z = verts.T
    radial = _radial_field(verts, centre, avg, faces)
    finger = np.isin(part, [v[0] for v in _FINGERS.values()]).astype(np.float64)
    thumb = (part == _THUMB).astype(np.float64)
    t_base, t_dir = thumb_axis
    beyond = np.clip(_HAND_KNUCKLE_X - x, 0.0, None)          # distance past the knuckles
    f = np.zeros((len(verts), 3, 10))
    f[:, :, 0] = 0.04 * verts                                  # overall size
    f[:, 2, 1] = 0.10 * z * _ramp(x, 0.01, -0.02)               # palm width
    f[:, 0, 2] = -0.12 * beyond * finger                       # finger length
    f[:, :, 3] = 0.08 * finger[:, None] * radial               # finger thickness
    s_th = np.clip((verts - t_base) @ t_dir - 0.02, 0.0, None)
    f[:, :, 4] = 0.12 * (thumb * s_th)[:, None] * t_dir[None]  # thumb length
    f[:, 1, 5] = 0.10 * y * (1.0 - finger) * (1.0 - thumb)     # palm thickness
    f[:, 0, 6] = -0.006 * _ramp(x, -0.01, -0.08)                # palm length (fingers move along)
    f[:, 1, 7] = 0.06 * y                                      # overall thickness
    f[:, :, 8] = 0.08 * thumb[:, None] * radial                # thumb thickness
    f[:, 2, 9] = 0.25 * z * np.clip(beyond / 0.08, 0.0, 1.0)   # finger spread
    return _smooth(f, avg, 4)


def _hand_pca(rng):
    """Orthonormal 45 x 45 basis whose first rows are articulation synergies."""
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


def build_mano_model(seed: int = 0) -> dict[str, np.ndarray]:
    """The synthetic right-hand MANO model as a dict of plain arrays (official key names)."""
    base = _hand_base()
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
    normals = _vertex_normals(v_template, base["faces"])
    sigmas = np.full(16, 0.012)
    sigmas[[13, 14, 15]] = 0.015
    posedirs = _pose_blend_shapes(v_template, normals, J, base["weights"], MANO_PARENTS, sigmas,
                                  twist=0.04 * rng.uniform(0.9, 1.1),
                                  bulge=0.0012 * rng.uniform(0.9, 1.1))
    mean = np.zeros((15, 3))
    mean[:12, 2] = np.tile([0.22, 0.18, 0.08], 4)
    mean[[0, 3, 6, 9], 1] = [0.05, 0.0, -0.08, -0.04]
    mean[12:] = [[0.10, 0.05, 0.12], [0.02, 0.0, 0.15], [0.0, 0.0, 0.12]]
    mean += rng.normal(0.0, 0.02, size=mean.shape)
    model = _model_dict(v_template, shapedirs, posedirs, jreg, base["weights"], base["faces"], MANO_PARENTS, J)
    model.update(hands_components=_hand_pca(rng), hands_mean=mean.ravel())
    return model


def _model_dict(v_template: np.ndarray, shapedirs: np.ndarray, posedirs: np.ndarray, jreg: np.ndarray,
                weights: np.ndarray, faces: np.ndarray, parents, J: np.ndarray) -> dict:
    """The keys shared by the official SMPL and MANO files (J_regressor as a csc matrix, faces uint32)."""
    kintree = np.array([[_ROOT_PARENT] + list(parents[1:]), list(range(len(parents)))], dtype=np.int64)
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


_GENDER_COEFFS = {
    "neutral": np.zeros(10),
    "male": np.array([0.8, 0.0, 0.3, 0.2, 1.2, -0.3, 0.0, -0.8, 0.5, 0.8]),
    "female": np.array([-1.0, 0.3, -0.2, -0.3, -1.3, 0.2, -0.3, 1.4, -0.2, -0.8]),
}


def build_smpl_model(seed: int = 0, gender: str = "neutral") -> dict[str, np.ndarray]:
    """The synthetic SMPL model for ``gender`` as a dict of plain arrays (official key names)."""
    if gender not in _GENDERS:
        raise ValueError(f"gender must be one of {_GENDERS}, got {gender!r}")
    base = _body_base()
    rng = np.random.default_rng([int(seed), _GENDERS.index(gender), 1])
    fields = _body_fields(base["verts"], base["centre"], base["part"], base["faces"], base["avg"])
    coeffs = _GENDER_COEFFS[gender] + rng.normal(0.0, 0.25, size=10)
    v_canon = base["verts"] + fields @ coeffs
    v_template = v_canon + np.array([0.0, _BODY_Y_OFFSET, 0.0])
    shapedirs = _body_fields(v_canon, base["centre"] + (v_canon - base["verts"]), base["part"],
                             base["faces"], base["avg"])
    shapedirs *= rng.uniform(0.9, 1.1, size=10)[None, None, :]
    jreg = base["J_regressor"]
    J = jreg @ v_template
    normals = _vertex_normals(v_template, base["faces"])
    sigmas = np.full(24, 0.07)
    sigmas[[10, 11, 15, 20, 21, 22, 23]] = 0.05
    posedirs = _pose_blend_shapes(v_template, normals, J, base["weights"], SMPL_PARENTS, sigmas,
                                  twist=0.05 * rng.uniform(0.9, 1.1), bulge=0.006 * rng.uniform(0.9, 1.1))
    return _model_dict(v_template, shapedirs, posedirs, jreg, base["weights"], base["faces"], SMPL_PARENTS, J)


def build_body_regressors(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(H36M regressor, COCO regressor), both float64 (17, 6890), for the synthetic body."""
    base = _body_base()
    rng = np.random.default_rng([int(seed), 7])
    rows = base["ext_rows"]
    h36m_names = ["pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "torso",
                  "neck", "nose", "head_top", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder",
                  "r_elbow", "r_wrist"]
    h36m = np.stack([rows[n] for n in h36m_names])
    h36m *= rng.uniform(0.9996, 1.0, size=(len(h36m), 1))
    coco = np.zeros((17, SMPL_NUM_VERTS))
    for k, name in enumerate(("nose", "left_eye", "right_eye", "left_ear", "right_ear")):
        coco[k, SMPL_FACE_KEYPOINT_VERTICES[name]] = 1.0
    coco_names = ["l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_hip",
                  "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle"]
    for k, name in enumerate(coco_names, start=5):
        coco[k] = rows[name]
    return h36m.astype(np.float64), coco.astype(np.float64)


# ---------------------------------------------------------------------------------------------
# Writing: protocol-2 pickles that look like the 2016-era (Python 2, chumpy) official files
# ---------------------------------------------------------------------------------------------

class _Ch:
    """Written as ``chumpy.ch.Ch``: rebuilt empty (NEWOBJ) and given ``{'x': array, ...}`` (BUILD)."""

    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x


def _np_reconstruct(*args):  # pragma: no cover - identity token, written as the NumPy 1 global
    raise NotImplementedError


# objects -> (module, name) under which they are written
_LEGACY_GLOBALS = {
    _Ch: ("chumpy.ch", "Ch"),
    _np_reconstruct: ("numpy.core.multiarray", "_reconstruct"),
    np.ndarray: ("numpy", "ndarray"),
    np.dtype: ("numpy", "dtype"),
    scipy.sparse.csc_matrix: ("scipy.sparse.csc", "csc_matrix"),
}


class _LegacyPickler(pickle._Pickler):
    """Pure-Python pickler (protocol 2) emitting Python-2 era globals and strings."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file):
        super().__init__(file, protocol=2)

    def save_global(self, obj, name=None):
        target = _LEGACY_GLOBALS.get(obj) if isinstance(obj, type) or callable(obj) else None
        if target is None:
            return super().save_global(obj, name)
        self.write(pickle.GLOBAL + f"{target[0]}\n{target[1]}\n".encode("ascii"))
        self.memoize(obj)

    dispatch[type(_np_reconstruct)] = save_global

    def _write_string(self, data: bytes):
        # Python 2 ``str``: SHORT_BINSTRING / BINSTRING (read back as latin-1 text)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]))
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)))
        self.write(data)

    def save_str(self, obj):
        self._write_string(obj.encode("latin-1"))
        self.memoize(obj)

    def save_bytes(self, obj):
        self._write_string(bytes(obj))
        self.memoize(obj)

    dispatch[str] = save_str
    dispatch[bytes] = save_bytes

    def reducer_override(self, obj):
        if type(obj) is np.ndarray:
            if obj.dtype.hasobject:
                raise pickle.PicklingError("object arrays are not supported")
            arr = np.ascontiguousarray(obj)
            state = (1, tuple(int(s) for s in arr.shape), arr.dtype, False, arr.tobytes())
            return (_np_reconstruct, (np.ndarray, (0,), b"b"), state)
        if isinstance(obj, np.dtype):
            order = "|" if obj.itemsize == 1 else "<"
            if obj.byteorder == ">":
                raise pickle.PicklingError("big-endian arrays are not supported")
            return (np.dtype, (obj.str[1:], False, True), (3, order, None, None, None, -1, -1, 0))
        if isinstance(obj, _Ch):
            return (copyreg.__newobj__, (_Ch,), {"x": obj.x, "_dirty_vars": set()})
        if type(obj) is scipy.sparse.csc_matrix:
            state = {"_shape": tuple(int(s) for s in obj.shape), "maxprint": 50,
                     "indices": obj.indices.astype(np.int32), "indptr": obj.indptr.astype(np.int32),
                     "data": obj.data.astype(np.float64)}
            return (copyreg.__newobj__, (scipy.sparse.csc_matrix,), state)
        return NotImplemented


def write_model_pickle(model: dict, path, chumpy_keys=()) -> Path:
    """Write ``model`` like an official SMPL/MANO file (keys in ``chumpy_keys`` as chumpy objects)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, value in model.items():
        if key in chumpy_keys:
            value = _Ch(np.asarray(value, dtype=np.float64))
        elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
            value = np.asarray(value, dtype=np.float64)
        elif scipy.sparse.issparse(value):
            value = scipy.sparse.csc_matrix(value, dtype=np.float64)
        out[key] = value
    buf = io.BytesIO()
    _LegacyPickler(buf).dump(out)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    return path


def write_smpl_files(out_dir, seed: int = 0) -> list[Path]:
    """The neutral, male and female SMPL files (official names) in ``out_dir``."""
    out_dir = Path(out_dir)
    return [write_model_pickle(build_smpl_model(seed, g), out_dir / SMPL_FILENAMES[g], _SMPL_CHUMPY_KEYS)
            for g in _GENDERS]


def write_mano_file(out_dir, seed: int = 0) -> Path:
    """``MANO_RIGHT.pkl`` in ``out_dir``."""
    return write_model_pickle(build_mano_model(seed), Path(out_dir) / MANO_FILENAME, _MANO_CHUMPY_KEYS)


def write_body_regressors(out_dir, seed: int = 0) -> tuple[Path, Path]:
    """``J_regressor_h36m_correct.npy`` and ``J_regressor_coco_hip_smpl.npy`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    h36m, coco = build_body_regressors(seed)
    paths = (out_dir / H36M_REGRESSOR_FILENAME, out_dir / COCO_REGRESSOR_FILENAME)
    for p, arr in zip(paths, (h36m, coco)):
        np.save(p, arr)
    return paths


def write_all(out_dir, seed: int = 0) -> dict[str, Path]:
    """Every synthetic model file into one folder.

    Keys: ``smpl_neutral``, ``smpl_male``, ``smpl_female``, ``mano_right``, ``J_regressor_h36m``,
    ``J_regressor_coco``.
    """
    smpl = write_smpl_files(out_dir, seed)
    mano = write_mano_file(out_dir, seed)
    h36m, coco = write_body_regressors(out_dir, seed)
    files = {f"smpl_{g}": p for g, p in zip(_GENDERS, smpl)}
    files.update({"mano_right": mano, "J_regressor_h36m": h36m, "J_regressor_coco": coco})
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.synthetic.body_models",
        description="Write synthetic SMPL (neutral/male/female) and MANO model files in the official "
                    "pickle format, plus the H36M and COCO body regressors, into one folder.")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    for name, path in write_all(args.out, args.seed).items():
        print(f"{name:18s} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
