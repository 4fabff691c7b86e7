"""The canonical SMPL-topology body mesh, built from cross-section tables (before refinement to 6890 vertices).

The torso, neck and head are one tube of rings along +y closed by a pole on the head; the legs hang from the
crotch ring, which is split in two by a chord of vertices (a pair of pants); each arm leaves the torso through a
rectangular hole cut out of the shoulder rows.  Canonical frame: floor at y = 0, facing +z, left side at +x,
T-pose, metres.
"""
from __future__ import annotations

import numpy as np

from .curves import arclength, arclength_samples, bump, profile, ramp
from .mesh_builder import MeshBuilder, Tube
from .mesh_ops import fair

TORSO, LLEG, RLEG, LARM, RARM = 0, 1, 2, 3, 4  # part ids

# Torso / neck / head cross sections: (y, rx, rz, z_centre, superellipse power)
TORSO_TABLE = [
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
BODY_JOINTS = {
    0: (0.0, 0.935, -0.012), 1: (0.085, 0.855, -0.010), 3: (0.0, 1.045, -0.018),
    4: (0.097, 0.500, 0.002), 6: (0.0, 1.175, -0.010), 7: (0.098, 0.085, -0.024),
    9: (0.0, 1.240, -0.006), 10: (0.102, 0.020, 0.105), 12: (0.0, 1.480, -0.024),
    13: (0.075, 1.420, -0.014), 15: (0.0, 1.565, 0.000), 16: (0.185, 1.408, -0.016),
    18: (0.440, 1.410, -0.020), 20: (0.680, 1.410, -0.010), 22: (0.765, 1.404, -0.004),
}
for _k, _p in list(BODY_JOINTS.items()):  # right-side joints mirror the left ones
    if _p[0] > 0:
        BODY_JOINTS[_k + 1] = (-_p[0], _p[1], _p[2])
del _k, _p

_BODY_N = 40            # torso ring size (multiple of 4)
_BODY_TORSO_STEP = 0.017
_BODY_LEG_N = 32
_BODY_LEG_STEP = 0.023
_BODY_ARM_N = 28
_BODY_ARM_STEP = 0.0215
_BODY_CHORD = 11        # interior crotch-chord vertices
_NOSE_Y, _EYE_Y, _EAR_Y = 1.615, 1.645, 1.628
_TORSO_PROFILE = profile(TORSO_TABLE)


def _torso_section(y) -> np.ndarray:
    """Cross sections (n, 4) = (rx, rz, z centre, power) at heights ``y``; above the dome base an ellipse closes
    the head."""
    y_dome, dome_h = _HEAD_DOME
    top = TORSO_TABLE[-1]
    y = np.atleast_1d(y)
    out = _TORSO_PROFILE(np.minimum(y, y_dome))
    above = y > y_dome
    if np.any(above):
        c = np.sqrt(np.clip(1.0 - ((y[above] - y_dome) / dome_h) ** 2, 0.0, 1.0))
        out[above, 0] = top[1] * c
        out[above, 1] = top[2] * c
        out[above, 2] = top[3] * c
        out[above, 3] = 2.0
    return out


def _torso_rows(mb: MeshBuilder) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Rings of the torso / neck / head (heights ``ys``, bottom first) and the pole vertex on the head."""
    ex, _, ez = np.eye(3)
    y0, y_top = TORSO_TABLE[0][0], _HEAD_DOME[0] + _HEAD_DOME[1]
    n_rows = round(arclength(_torso_section, y0, y_top) / _BODY_TORSO_STEP)
    ys = arclength_samples(_torso_section, y0, y_top, n_rows)
    rows = []
    for y in ys:
        rx, rz, zc, pw = _torso_section(y)[0]
        rows.append(mb.ring(np.array([0.0, y, zc]), ez, ex, rz, rx, _BODY_N, part=TORSO, coord=y,
                            power=pw))
    pole = mb.add([[0.0, y_top, 0.0]], TORSO, centre=[0.0, y_top, 0.0], coord=y_top)
    return ys, rows, pole


def _sculpt_face(mb: MeshBuilder, ys: np.ndarray, rows: list[np.ndarray]) -> dict[str, int]:
    """Nose bump (front), ears (sides), eye dents; returns the keypoint vertex ids (builder numbering)."""
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
    return {"nose": nose, "left_eye": eye_l, "right_eye": eye_r, "left_ear": ear_l, "right_ear": ear_r}


def _torso_faces(mb: MeshBuilder, ys: np.ndarray, rows: list[np.ndarray],
                 pole: np.ndarray) -> tuple[int, int, dict[int, tuple[int, int]]]:
    """Torso bands with the arm holes cut out of the shoulder rows; returns the hole rows and columns."""
    y_sh = BODY_JOINTS[16][1]
    hole_rows = [r for r in range(len(rows)) if abs(ys[r] - y_sh) <= 0.056]
    r0, r1 = hole_rows[0], hole_rows[-1]
    half = 4
    n4 = _BODY_N // 4
    holes = {LARM: (n4 - half, n4 + half), RARM: (3 * n4 - half, 3 * n4 + half)}
    for r in range(len(rows) - 1):
        skip = []
        if r0 <= r < r1:
            for c0, c1 in holes.values():
                skip.extend(range(c0, c1))
        mb.quad_band(rows[r], rows[r + 1], skip=skip)
    mb.bridge(rows[-1], np.arange(_BODY_N) / _BODY_N, pole, [0.0])
    return r0, r1, holes


def _add_legs(mb: MeshBuilder, crotch_ring: np.ndarray) -> None:
    """Split the crotch ring (reversed, legs go down) with a front-to-back chord; one leg tube + foot per half."""
    ex, _, ez = np.eye(3)
    y0 = TORSO_TABLE[0][0]
    bottom = list(crotch_ring)
    rev = [bottom[0]] + bottom[:0:-1]
    p_front, p_back = mb.pos[bottom[0]], mb.pos[bottom[_BODY_N // 2]]
    t = np.linspace(0, 1, _BODY_CHORD + 2)[1:-1]
    chord = p_front[None] + t[:, None] * (p_back - p_front)[None]
    chord[:, 1] += 0.006 * np.sin(np.pi * t)
    right_loop, left_loop = mb.split_loop(rev, 0, _BODY_N // 2, chord, TORSO, coord=y0)
    leg = profile(_LEG_TABLE)
    leg_top, leg_bot = _LEG_TABLE[0][0], _LEG_TABLE[-1][0]
    n_leg_rows = round(arclength(lambda t: leg(-t), -leg_top, -leg_bot) / _BODY_LEG_STEP) + 1
    leg_ys = -arclength_samples(lambda t: leg(-t), -leg_top, -leg_bot, n_leg_rows - 1)
    leg_ys = np.append(leg_ys, leg_bot)
    for part, loop, sgn in ((LLEG, left_loop, 1.0), (RLEG, right_loop, -1.0)):
        rx, rz, xc, zc = leg(leg_ys[0])
        centre = np.array([sgn * xc, leg_ys[0], zc])
        u_loop = mb.loop_params(loop, centre, ex, ez)
        d0 = mb.pos[loop[0]] - centre
        tube = Tube(mb, loop, u_loop, ex, ez, _BODY_LEG_N, np.arctan2(d0[2], d0[0]), part)
        for y in leg_ys:
            rx, rz, xc, zc = leg(y)
            tube.add_ring(np.array([sgn * xc, y, zc]), rx, rz, coord=y)
        for y, rx, zb, zf, xc in _FOOT_TABLE:
            c = np.array([sgn * xc, y, 0.5 * (zb + zf)])
            tube.add_ring(c, rx, 0.5 * (zf - zb), coord=y, power=2.3)
        y, rx, zb, zf, xc = _FOOT_TABLE[-1]
        c = np.array([sgn * xc, 0.0, 0.5 * (zb + zf)])
        tube.add_ring(c, 0.55 * rx, 0.55 * 0.5 * (zf - zb), coord=0.0, power=2.3)  # inner sole ring
        tube.close(mb.add([c], part, centre=c, coord=0.0), [0.0])


def _add_arms(mb: MeshBuilder, rows: list[np.ndarray], r0: int, r1: int,
              holes: dict[int, tuple[int, int]]) -> None:
    """One arm tube out of each shoulder hole, with a rounded tip."""
    ex, ey, _ = np.eye(3)
    arm = profile(_ARM_TABLE)
    x_start, x_last = _ARM_TABLE[0][0], _ARM_TABLE[-1][0]
    n_arm_rows = round(arclength(arm, x_start, x_last) / _BODY_ARM_STEP) + 1
    arm_xs = np.append(arclength_samples(arm, x_start, x_last, n_arm_rows - 1), x_last)
    tip_angles = np.deg2rad([35.0, 62.0, 80.0])
    for part, (c0, c1), sgn in ((LARM, holes[LARM], 1.0), (RARM, holes[RARM], -1.0)):
        loop = mb.hole_loop(rows, r0, r1, c0, c1)
        t_dir = sgn * ex
        e1, e2 = ey, np.cross(t_dir, ey)
        ry, rz, yc, zc = arm(x_start)
        centre = np.array([sgn * x_start, yc, zc])
        u_loop = mb.loop_params(loop, centre, e1, e2)
        d0 = mb.pos[loop[0]] - centre
        tube = Tube(mb, loop, u_loop, e1, e2, _BODY_ARM_N, np.arctan2(d0 @ e2, d0 @ e1), part)
        for x in arm_xs:
            ry, rz, yc, zc = arm(x)
            tube.add_ring(np.array([sgn * x, yc, zc]), ry, rz, coord=x)
        ry, rz, yc, zc = arm(x_last)
        tube.add_cap(np.array([0.0, yc, zc]), t_dir, x_last, _ARM_TIP_X - x_last, ry, rz, tip_angles)
        tip = mb.add([[sgn * _ARM_TIP_X, yc, zc]], part, centre=[sgn * _ARM_TIP_X, yc, zc],
                     coord=_ARM_TIP_X)
        tube.close(tip, [0.0])


def build_body_canonical() -> tuple[tuple[np.ndarray, ...], dict[str, int]]:
    """Canonical body mesh before refinement.

    Returns ``(verts, faces, part, centre, coord)`` (see :meth:`MeshBuilder.finish`) and the keypoint vertex ids
    (``nose``, ``left_eye``, ``right_eye``, ``left_ear``, ``right_ear``, ``head_top``).
    """
    mb = MeshBuilder()
    ys, rows, pole = _torso_rows(mb)
    keypoints = _sculpt_face(mb, ys, rows)
    r0, r1, holes = _torso_faces(mb, ys, rows, pole)
    _add_legs(mb, rows[0])
    _add_arms(mb, rows, r0, r1, holes)

    arrays, remap = mb.finish()
    # fair the junctions (crotch, shoulders) with a few masked Laplacian smoothing steps
    verts, faces = arrays[0], arrays[1]
    x, y = verts[:, 0], verts[:, 1]
    crotch = bump(y, TORSO_TABLE[0][0] - 0.01, 0.035) * (1.0 - ramp(np.abs(x), 0.12, 0.17))
    shoulder = (bump(np.abs(x), 0.195, 0.03) * bump(y, BODY_JOINTS[16][1], 0.05))
    mask = np.clip(crotch + shoulder, 0.0, 1.0)[:, None]
    arrays = (fair(verts, faces, mask, 12),) + tuple(arrays[1:])
    keypoints["head_top"] = pole[0]
    return arrays, {k: int(remap[v]) for k, v in keypoints.items()}
