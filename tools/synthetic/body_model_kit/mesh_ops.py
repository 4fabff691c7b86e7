"""Operations on finished triangle meshes: refinement to an exact vertex count, smoothing, normals, renumbering.

Meshes are ``verts`` (V, 3) float64 metres and ``faces`` (F, 3) int64 vertex indices.
"""
from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np
import scipy.sparse


def split_longest_edges(verts: np.ndarray, faces: np.ndarray, attrs: Sequence[np.ndarray],
                        target: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Split the longest interior edges until there are ``target`` vertices.

    Each split adds one vertex (the edge midpoint) and two faces, so a closed genus-0 mesh stays
    closed and genus 0, and boundary edges are never touched.  ``attrs`` are per-vertex arrays; the
    new vertex gets the mean of the edge's end points (integer arrays: the first end point's value).
    Returns the new (target, 3) vertices, faces and attribute arrays.
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


def vertex_adjacency(faces: np.ndarray, n: int) -> scipy.sparse.csr_matrix:
    """Row-normalised (n, n) adjacency: ``avg @ x`` is the mean of ``x`` over each vertex's neighbours."""
    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2], faces[:, 0]])
    j = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1], faces[:, 2]])
    adj = scipy.sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    adj.data[:] = 1.0
    deg = np.asarray(adj.sum(axis=1)).ravel()
    return scipy.sparse.diags(1.0 / deg) @ adj


def smooth(values: np.ndarray, avg: scipy.sparse.spmatrix, iterations: int, lam: float = 0.5) -> np.ndarray:
    """Laplacian smoothing of per-vertex ``values`` (V, ...) with the neighbour-mean operator ``avg``."""
    out = np.asarray(values, dtype=np.float64)
    shape = out.shape
    out = out.reshape(shape[0], -1)
    for _ in range(iterations):
        out = (1.0 - lam) * out + lam * (avg @ out)
    return out.reshape(shape)


def fair(verts: np.ndarray, faces: np.ndarray, mask: np.ndarray, iterations: int) -> np.ndarray:
    """Masked Laplacian smoothing of the vertex positions: ``mask`` (V, 1) in [0, 1] says how much each moves.

    Used to round off the junctions between tubes (crotch, shoulders, finger and thumb roots).
    """
    avg = vertex_adjacency(faces, len(verts))
    for _ in range(iterations):
        verts = verts + 0.5 * mask * (avg @ verts - verts)
    return verts


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit vertex normals (V, 3): the area-weighted sum of the adjacent face normals."""
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    vn = np.zeros_like(verts)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    norm = np.linalg.norm(vn, axis=1, keepdims=True)
    return vn / np.maximum(norm, 1e-12)


def permutation_for(specials: Sequence[tuple[int, int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """``order`` with ``new_verts = old_verts[order]`` putting each ``old`` index at ``new``, and its inverse.

    ``specials`` is a list of (old index, new index); faces are renumbered with ``inverse[faces]``.
    """
    order = np.arange(n)
    for old, new in specials:
        p = int(np.flatnonzero(order == old)[0])
        order[p], order[new] = order[new], order[p]
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    return order, inverse
