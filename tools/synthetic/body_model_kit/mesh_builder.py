"""Builds closed (or wrist-open) triangle meshes out of stacked cross-section rings.

A limb is a *tube*: rings of vertices along an axis, consecutive rings joined by a triangle band.  Rings may have
different vertex counts (the band merges them by angle), a loop may be split in two by a chord of new vertices
(crotch, knuckles), and a rectangular block of quads may be left out to open a hole a new tube leaves through
(shoulders, thumb).  Every vertex also records the part it belongs to, the axis point of its ring and a
coordinate along the part's chain; the riggers use them for skinning weights and deformation fields.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class MeshBuilder:
    """Accumulates vertices (metres, with construction attributes) and triangles."""

    def __init__(self, capacity: int = 8000) -> None:
        self.pos = np.zeros((capacity, 3))
        self.centre = np.zeros((capacity, 3))   # axis point of the ring a vertex was made on
        self.part = np.zeros(capacity, dtype=np.int64)
        self.coord = np.zeros(capacity)         # 1-D coordinate along the part's chain
        self.n = 0
        self.faces: list[tuple[int, int, int]] = []

    def add(self, pos, part: int, centre=None, coord: float = 0.0) -> np.ndarray:
        """Append vertices ``pos`` (k, 3); returns their ids (k,)."""
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

    def bridge(self, ring_a, u_a, ring_b, u_b) -> None:
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

    def quad_band(self, ring_a, ring_b, skip: Sequence[int] = ()) -> None:
        """Quads between two aligned rings of equal size, leaving out the columns in ``skip``."""
        n = len(ring_a)
        skip = {int(c) % n for c in skip}
        for c in range(n):
            if c in skip:
                continue
            a0, a1, b0, b1 = ring_a[c], ring_a[(c + 1) % n], ring_b[c], ring_b[(c + 1) % n]
            self.faces.append((a0, a1, b0))
            self.faces.append((a1, b1, b0))

    # -- loop helpers ---------------------------------------------------------------------

    def loop_params(self, ids, centre: np.ndarray, e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
        """Cyclic angle parameters in [0, 1) of loop vertices around ``centre`` in the (e1, e2) plane."""
        d = self.pos[np.asarray(ids)] - centre
        ang = np.arctan2(d @ e2, d @ e1)
        rel = (ang - ang[0]) % (2.0 * np.pi)
        if np.any(np.diff(rel) <= 0):
            raise RuntimeError("loop is not star-shaped around its axis")
        return rel / (2.0 * np.pi)

    def loop_params_arclength(self, ids) -> np.ndarray:
        """Cyclic parameters of loop vertices by arc length (for loops that are not star-shaped)."""
        p = self.pos[np.asarray(ids)]
        seg = np.linalg.norm(np.roll(p, -1, axis=0) - p, axis=1)
        return np.concatenate([[0.0], np.cumsum(seg)[:-1]]) / seg.sum()

    def split_loop(self, loop, ia: int, ib: int, chord_pos, part: int,
                   coord: float = 0.0) -> tuple[list[int], list[int]]:
        """Split a loop with a chord of new vertices from ``loop[ia]`` to ``loop[ib]`` (ia < ib).

        Returns the two loops; both keep the orientation of ``loop`` and use the chord edges in
        opposite directions, so the result stays a manifold.
        """
        loop = list(loop)
        chord = list(self.add(chord_pos, part, coord=coord)) if len(chord_pos) else []
        first = loop[ia:ib + 1] + chord[::-1]
        second = loop[ib:] + loop[:ia + 1] + chord
        return first, second

    def hole_loop(self, rows, r0: int, r1: int, c0: int, c1: int) -> list[int]:
        """Boundary of the quad block rows r0..r1 x columns c0..c1 (oriented like the removed faces)."""
        n = len(rows[0])
        cols = [c % n for c in range(c0, c1 + 1)]
        loop = [rows[r0][c] for c in cols]
        loop += [rows[r][cols[-1]] for r in range(r0 + 1, r1 + 1)]
        loop += [rows[r1][c] for c in cols[-2::-1]]
        loop += [rows[r][cols[0]] for r in range(r1 - 1, r0, -1)]
        return loop

    def ring(self, centre: np.ndarray, e1: np.ndarray, e2: np.ndarray, a: float, b: float, count: int,
             phase: float = 0.0, part: int = 0, coord: float = 0.0, power: float = 2.0) -> np.ndarray:
        """A (super-)elliptic ring with half axes ``a`` along e1 and ``b`` along e2, counter-clockwise about e1 x e2."""
        ang = phase + 2.0 * np.pi * np.arange(count) / count
        c, s = np.cos(ang), np.sin(ang)
        ex = 2.0 / power
        c = np.sign(c) * np.abs(c) ** ex
        s = np.sign(s) * np.abs(s) ** ex
        pos = centre + np.outer(a * c, e1) + np.outer(b * s, e2)
        return self.add(pos, part, centre=centre, coord=coord)

    def finish(self) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """Arrays of the mesh, with vertices no face uses (inside cut-out holes) dropped.

        Returns ``(verts, faces, part, centre, coord)`` and ``remap`` (old vertex id -> new id).
        """
        faces = np.asarray(self.faces, dtype=np.int64)
        used = np.zeros(self.n, dtype=bool)
        used[faces.ravel()] = True
        remap = np.cumsum(used) - 1
        keep = np.flatnonzero(used)
        return (self.pos[keep].copy(), remap[faces], self.part[keep].copy(),
                self.centre[keep].copy(), self.coord[keep].copy()), remap


class Tube:
    """Grows a tube from an open loop: each :meth:`add_ring` appends a ring and bridges it to the previous one.

    All rings share the frame (``e1``, ``e2``), vertex count, start angle ``phase`` (radians) and part id.
    """

    def __init__(self, mb: MeshBuilder, loop, loop_u, e1: np.ndarray, e2: np.ndarray, count: int, phase: float,
                 part: int) -> None:
        self.mb, self.e1, self.e2, self.count, self.phase, self.part = mb, e1, e2, count, phase, part
        self.prev, self.prev_u = loop, loop_u
        self.ring_u = np.arange(count) / count

    def add_ring(self, centre: np.ndarray, a: float, b: float, coord: float, power: float = 2.0) -> np.ndarray:
        """Append one ring (half axes ``a``, ``b`` in metres) around ``centre``; returns its vertex ids."""
        ring = self.mb.ring(centre, self.e1, self.e2, a, b, self.count, phase=self.phase, part=self.part,
                            coord=coord, power=power)
        self.mb.bridge(self.prev, self.prev_u, ring, self.ring_u)
        self.prev, self.prev_u = ring, self.ring_u
        return ring

    def add_cap(self, origin: np.ndarray, axis: np.ndarray, s_base: float, reach: float, a: float, b: float,
                angles: np.ndarray) -> None:
        """Rings rounding off the tube end: at each angle t (radians) a ring centred at ``origin + s * axis`` with
        ``s = s_base + reach * sin(t)`` (metres) and half axes ``a``, ``b`` times cos(t)."""
        for t in angles:
            s = s_base + reach * np.sin(t)
            self.add_ring(origin + s * axis, a * np.cos(t), b * np.cos(t), coord=s)

    def close(self, ids, u) -> None:
        """Close the tube with the tip vertices ``ids`` (cyclic parameters ``u``)."""
        self.mb.bridge(self.prev, self.prev_u, ids, u)
