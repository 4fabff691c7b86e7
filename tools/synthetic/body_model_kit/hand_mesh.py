"""The canonical MANO-topology right-hand mesh (before refinement to 778 vertices).

A palm tube open at a 16-vertex wrist loop, split at the knuckles into four finger tubes by chords, with the
thumb leaving through a hole in the palm side.  Canonical frame: wrist joint at the origin, fingers along -x,
palm facing -y, thumb towards +z (the right hand of a T-posed SMPL body, palm down), metres.
"""
from __future__ import annotations

import numpy as np

from .curves import bump, normalize, profile
from .mesh_builder import MeshBuilder, Tube
from .mesh_ops import fair
from .skeleton import MANO_WRIST_LOOP

PALM, THUMB = 0, 5  # part ids (fingers: see FINGERS)
# name -> (part id, MANO joints (base, middle, tip side), finger length from the knuckle ring,
#          radius at the base, radius near the tip)
FINGERS = {
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
HAND_KNUCKLE_X = -0.095
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
_THUMB_HOLE = (1, 4, -2, 2)  # palm rows r0..r1 x columns c0..c1 (the +z side near the wrist)
_CAP_ANGLES = np.deg2rad([40.0, 70.0])
_E1, _E2 = np.array([0.0, 1.0, 0.0]), -np.array([0.0, 0.0, 1.0])  # frame for tubes along -x (e1 x e2 = -x)


def _palm_ring(mb: MeshBuilder, x: float, half_w: float, a_dors: float, a_palm: float, yc: float, zc: float,
               count: int, part: int = PALM, power: float = 2.5) -> np.ndarray:
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


def _palm(mb: MeshBuilder) -> tuple[np.ndarray, list[np.ndarray]]:
    """Wrist loop and palm rows (wrist to knuckles) with the thumb hole left open; returns (wrist, rows)."""
    palm = profile(_PALM_TABLE)
    b, ad, _, yc, zc = palm(_HAND_WRIST_X)
    wrist = mb.ring(np.array([_HAND_WRIST_X, yc, zc]), _E1, _E2, ad, b, MANO_WRIST_LOOP,
                    phase=-0.5 * np.pi, part=PALM, coord=_HAND_WRIST_X, power=2.2)
    xs = np.linspace(0.0, HAND_KNUCKLE_X, _HAND_PALM_ROWS)
    rows = [_palm_ring(mb, x, *palm(x), _HAND_PALM_N) for x in xs]
    centre0 = np.array([_HAND_WRIST_X, yc, zc])
    centre1 = np.array([xs[0], palm(xs[0])[3], palm(xs[0])[4]])
    mb.bridge(wrist, mb.loop_params(wrist, centre0, _E1, _E2), rows[0],
              mb.loop_params(rows[0], centre1, _E1, _E2))
    r0, r1, c0, c1 = _THUMB_HOLE
    for r in range(len(rows) - 1):
        mb.quad_band(rows[r], rows[r + 1], skip=range(c0, c1) if r0 <= r < r1 else ())
    return wrist, rows


def _finger_loops(mb: MeshBuilder, knuckle_ring: np.ndarray) -> list[list[int]]:
    """Split the knuckle ring into four finger loops with three dorsal-palmar chords (sorted by z)."""
    top = list(knuckle_ring)
    half = _HAND_PALM_N // 2

    def split(loop, ia, ib):
        chord = (0.5 * (mb.pos[loop[ia]] + mb.pos[loop[ib]]))[None]
        return mb.split_loop(loop, ia, ib, chord, PALM, coord=HAND_KNUCKLE_X)

    ring_side, thumb_side = split(top, half // 2, half + half // 2)
    # ring_side holds the -z half (little + ring); split at the dorsal / palmar quarter points
    d_v, p_v = top[half // 2 + half // 4], top[half + half // 4]
    little_loop, ring_loop = split(ring_side, ring_side.index(d_v), ring_side.index(p_v))
    d_v, p_v = top[half // 4], top[half + 3 * half // 4]
    ia, ib = sorted((thumb_side.index(d_v), thumb_side.index(p_v)))
    index_loop, middle_loop = split(thumb_side, ia, ib)
    return sorted([little_loop, ring_loop, middle_loop, index_loop], key=lambda lp: mb.pos[lp, 2].mean())


def _add_fingers(mb: MeshBuilder, loops: list[list[int]], joints: dict[int, np.ndarray]) -> dict[str, list[int]]:
    """One tapered, capped tube per finger loop; fills the finger joints and returns the tip vertex ids."""
    tips = {}
    for name, loop in zip(("little", "ring", "middle", "index"), loops):
        part, (j1, j2, j3), length, r_base, r_tip = FINGERS[name]
        zf = float(mb.pos[loop, 2].mean())
        yf = float(mb.pos[loop, 1].mean())
        x_tip = HAND_KNUCKLE_X - length
        joints[j1] = np.array([HAND_KNUCKLE_X + 0.010, yf, zf])
        joints[j2] = np.array([HAND_KNUCKLE_X - 0.36 * length, yf, zf])
        joints[j3] = np.array([HAND_KNUCKLE_X - 0.66 * length, yf, zf])
        centre = np.array([HAND_KNUCKLE_X, yf, zf])
        d0 = mb.pos[loop[0]] - centre
        tube = Tube(mb, loop, mb.loop_params(loop, centre, _E1, _E2), _E1, _E2, _HAND_FINGER_N,
                    np.arctan2(d0 @ _E2, d0 @ _E1), part)
        x_start, x_end = HAND_KNUCKLE_X - 0.007, x_tip + r_tip
        n_rings = round((x_start - x_end) / _HAND_FINGER_STEP) + 1
        for x in np.linspace(x_start, x_end, n_rings):
            t = (x_start - x) / (x_start - x_end)
            r = r_base + (r_tip - r_base) * t
            tube.add_ring(np.array([x, yf, zf]), 0.92 * r, r, coord=x)
        tube.add_cap(np.array([0.0, yf, zf]), np.array([1.0, 0.0, 0.0]), x_end, -r_tip, 0.92 * r_tip, r_tip,
                     _CAP_ANGLES)
        if name == "middle":   # two adjacent tip vertices (MANO's 444 and 445)
            tip = mb.add([[x_tip, yf + 0.0022, zf], [x_tip, yf - 0.0022, zf]], part,
                         centre=[x_tip, yf, zf], coord=x_tip)
            tube.close(tip, [0.0, 0.5])
        else:
            tip = mb.add([[x_tip, yf, zf]], part, centre=[x_tip, yf, zf], coord=x_tip)
            tube.close(tip, [0.0])
        tips[name] = [int(t) for t in tip]
    return tips


def _add_thumb(mb: MeshBuilder, rows: list[np.ndarray],
               joints: dict[int, np.ndarray]) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Thumb tube out of the palm-side hole; fills joints 13-15.

    Returns the tip vertex id, the hole centre (3,), the thumb base point (3,) and its unit axis (3,).
    """
    hole = mb.hole_loop(rows, *_THUMB_HOLE)
    h_centre = mb.pos[hole].mean(axis=0)
    d = normalize(np.asarray(_HAND_THUMB_DIR))
    base = h_centre - 0.020 * d
    t1 = normalize(_E1 - (_E1 @ d) * d)
    t2 = np.cross(d, t1)
    joints[13] = base
    joints[14] = base + 0.042 * d
    joints[15] = base + 0.072 * d
    thumb = profile(_HAND_THUMB_TABLE)
    s0, s1 = _HAND_THUMB_TABLE[0][0], _HAND_THUMB_TABLE[-1][0]
    n_rings = round((s1 - s0) / _HAND_THUMB_STEP) + 1
    dh = mb.pos[hole[0]] - (base + s0 * d)
    tube = Tube(mb, hole, mb.loop_params_arclength(hole), t1, t2, len(hole), np.arctan2(dh @ t2, dh @ t1), THUMB)
    for sv in np.linspace(s0, s1, n_rings):
        ra, rb = thumb(sv)
        tube.add_ring(base + sv * d, ra, rb, coord=sv)
    ra, rb = thumb(s1)
    tube.add_cap(base, d, s1, _HAND_THUMB_TIP - s1, ra, rb, _CAP_ANGLES)
    tip = mb.add([base + _HAND_THUMB_TIP * d], THUMB, coord=_HAND_THUMB_TIP)
    tube.close(tip, [0.0])
    return int(tip[0]), h_centre, base, d


def build_hand_canonical() -> tuple[tuple[np.ndarray, ...], dict[str, list[int]], list[int], dict[int, np.ndarray],
                                    tuple[np.ndarray, np.ndarray]]:
    """Canonical hand mesh before refinement.

    Returns ``(verts, faces, part, centre, coord)`` (see :meth:`MeshBuilder.finish`), fingertip vertex ids by
    finger, the wrist boundary loop (16 ids), the 16 joint positions (index -> (3,)) and the thumb axis
    (base point, unit direction).
    """
    mb = MeshBuilder(capacity=1200)
    wrist, rows = _palm(mb)
    joints = {0: np.zeros(3)}
    tips = _add_fingers(mb, _finger_loops(mb, rows[-1]), joints)
    thumb_tip, h_centre, base, d = _add_thumb(mb, rows, joints)
    tips["thumb"] = [thumb_tip]

    arrays, remap = mb.finish()
    # fair the finger roots and the thumb root
    verts, faces = arrays[0], arrays[1]
    knuckles = bump(verts[:, 0], HAND_KNUCKLE_X - 0.002, 0.008)
    thumb_root = bump(np.linalg.norm(verts - (h_centre + 0.006 * d), axis=1), 0.0, 0.014)
    mask = np.clip(knuckles + thumb_root, 0.0, 1.0)[:, None]
    arrays = (fair(verts, faces, mask, 8),) + tuple(arrays[1:])
    tips = {k: [int(remap[v]) for v in vs] for k, vs in tips.items()}
    boundary = [int(remap[v]) for v in wrist]
    return arrays, tips, boundary, joints, (base, d)
