"""A small, dependency-free triangle rasteriser (NumPy only, CPU, no OpenGL).

Used by the demo as its fallback renderer and by the synthetic test datasets to draw their images.

Pinhole camera with the project's conventions (``common.utils.transforms.cam2pixel``): camera space X right,
Y down, Z forward; a point projects to ``u = X / Z * f_x + c_x``, ``v = Y / Z * f_y + c_y`` and pixel (row ``r``,
column ``c``) has its centre at (u, v) = (c, r).

:func:`rasterize` is a plain z-buffer rasteriser: a pixel belongs to a triangle when its centre lies inside the
projected triangle (edges included), the nearest surface wins (perspective-correct depth and barycentrics).  The whole
mesh is rasterised at once: triangles are grouped by the size of their pixel bounding box and every group is
evaluated on a dense candidate grid with vectorised edge functions, so a 14k-triangle body takes a few tens of ms.

:func:`render_meshes` / :func:`render_mesh` draw with 2 x 2 supersampling (anti-aliased edges), Lambertian shading
with smooth vertex normals lit from the camera plus a key light, two-sided.  The returned mask marks every pixel with
at least one covered sample, so the projection of a mesh vertex falls on the mask even on the silhouette.

pyrender/OSMesa was not used: a software rasteriser is deterministic, needs no GL context and is fast enough here.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["rasterize", "render_mesh", "render_meshes", "vertex_normals"]

_NEAR = 1e-3  # metres: triangles with a vertex closer than this to the camera plane are not drawn
_MAX_CANDIDATES = 4_000_000  # candidate pixels evaluated per vectorised chunk


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V, 3) of a triangle mesh."""
    verts = np.asarray(verts, dtype=np.float64)
    tri = verts[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(verts)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_n)
    norm = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.maximum(norm, 1e-12)


def _bucket_size(n: np.ndarray) -> np.ndarray:
    """Candidate-grid size for pixel boxes of size ``n``: ``n`` itself up to 8, else the next power of two."""
    pow2 = np.left_shift(1, np.ceil(np.log2(np.maximum(n, 1))).astype(np.int64))
    return np.where(n <= 8, n, pow2)


def rasterize(verts_cam: np.ndarray, faces: np.ndarray, focal: Sequence[float], princpt: Sequence[float],
              img_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-buffer rasterisation of a mesh given in camera space.

    Args:
        verts_cam: (V, 3) camera-space vertices (any unit, Z > 0 in front of the camera).
        faces: (F, 3) vertex indices.
        focal, princpt: (f_x, f_y), (c_x, c_y) in pixels.
        img_shape: (H, W).
    Returns:
        face_idx (H, W) int64 (-1 where no triangle covers the pixel centre), depth (H, W) float64 (camera Z of the
        visible surface, +inf on the background) and bary (H, W, 3) float64 perspective-correct barycentric weights
        of the visible triangle's vertices.
    """
    height, width = int(img_shape[0]), int(img_shape[1])
    verts = np.asarray(verts_cam, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    z = verts[:, 2]
    safe_z = np.where(z > _NEAR, z, 1.0)
    u = verts[:, 0] / safe_z * float(focal[0]) + float(princpt[0])
    v = verts[:, 1] / safe_z * float(focal[1]) + float(princpt[1])

    fu, fv, fz = u[faces], v[faces], z[faces]  # (F, 3)
    x_lo = np.ceil(fu.min(1))
    x_hi = np.floor(fu.max(1))
    y_lo = np.ceil(fv.min(1))
    y_hi = np.floor(fv.max(1))
    x_lo = np.maximum(x_lo, 0)
    y_lo = np.maximum(y_lo, 0)
    x_hi = np.minimum(x_hi, width - 1)
    y_hi = np.minimum(y_hi, height - 1)
    area = (fu[:, 1] - fu[:, 0]) * (fv[:, 2] - fv[:, 0]) - (fu[:, 2] - fu[:, 0]) * (fv[:, 1] - fv[:, 0])
    keep = (x_hi >= x_lo) & (y_hi >= y_lo) & (fz.min(1) > _NEAR) & (np.abs(area) > 1e-12)
    face_ids = np.nonzero(keep)[0]

    pix_all, invz_all, fid_all, bary_all = [], [], [], []
    if face_ids.size:
        # group triangles by their pixel-box size (exact up to 8 pixels, then powers of two) so that each group is
        # evaluated on a dense (box_h x box_w) grid of candidate pixels
        box_w = (x_hi[face_ids] - x_lo[face_ids] + 1).astype(np.int64)
        box_h = (y_hi[face_ids] - y_lo[face_ids] + 1).astype(np.int64)
        quant_w, quant_h = _bucket_size(box_w), _bucket_size(box_h)
        group_key = quant_h * (1 << 20) + quant_w
        order = np.argsort(group_key, kind="stable")
        keys, starts = np.unique(group_key[order], return_index=True)
        bounds = list(starts) + [order.size]
        for g, key in enumerate(keys):
            grid_h, grid_w = int(key >> 20), int(key & ((1 << 20) - 1))
            members = face_ids[order[bounds[g]:bounds[g + 1]]]
            dy, dx = np.divmod(np.arange(grid_h * grid_w), grid_w)
            chunk = max(1, _MAX_CANDIDATES // (grid_h * grid_w))
            for start in range(0, members.size, chunk):
                ids = members[start:start + chunk]
                px = x_lo[ids, None] + dx[None, :]
                py = y_lo[ids, None] + dy[None, :]
                inside = (px <= x_hi[ids, None]) & (py <= y_hi[ids, None])
                u0, u1, u2 = (fu[ids, k, None] for k in range(3))
                v0, v1, v2 = (fv[ids, k, None] for k in range(3))
                inv_area = 1.0 / area[ids, None]
                w0 = ((u1 - px) * (v2 - py) - (u2 - px) * (v1 - py)) * inv_area
                w1 = ((u2 - px) * (v0 - py) - (u0 - px) * (v2 - py)) * inv_area
                w2 = 1.0 - w0 - w1
                eps = -1e-9
                inside &= (w0 >= eps) & (w1 >= eps) & (w2 >= eps)
                rows, cols = np.nonzero(inside)
                if rows.size == 0:
                    continue
                fsel = ids[rows]
                b = np.stack((w0[rows, cols], w1[rows, cols], w2[rows, cols]), axis=1) / fz[fsel]
                invz = b.sum(1)
                pix_all.append((py[rows, cols] * width + px[rows, cols]).astype(np.int64))
                invz_all.append(invz)
                fid_all.append(fsel)
                bary_all.append(b / invz[:, None])

    face_idx = np.full(height * width, -1, dtype=np.int64)
    depth = np.full(height * width, np.inf)
    bary = np.zeros((height * width, 3))
    if pix_all:
        pix = np.concatenate(pix_all)
        invz = np.concatenate(invz_all)
        fid = np.concatenate(fid_all)
        bar = np.concatenate(bary_all)
        nearest = np.full(height * width, -np.inf)
        np.maximum.at(nearest, pix, invz)
        win = np.nonzero(invz == nearest[pix])[0]  # exact ties: the last candidate wins (deterministic)
        face_idx[pix[win]] = fid[win]
        depth[pix[win]] = 1.0 / invz[win]
        bary[pix[win]] = bar[win]
    return face_idx.reshape(height, width), depth.reshape(height, width), bary.reshape(height, width, 3)


def render_meshes(meshes: Sequence[tuple[np.ndarray, np.ndarray, Sequence[float]]], focal: Sequence[float],
                  princpt: Sequence[float], img_shape: tuple[int, int], background: np.ndarray,
                  ambient: float = 0.35, supersample: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render several meshes (each (verts_cam (V, 3), faces (F, 3), colour)) into one image.

    ``colour`` is one RGB triple in [0, 255] or per-vertex colours (V, 3).  The image is rendered with
    ``supersample`` x ``supersample`` samples per pixel (anti-aliased edges); a pixel belongs to the mask when any of
    its samples is covered.

    Returns the (H, W, 3) uint8 image, a (H, W) uint8 label map (0 = background, k + 1 = pixel covered by mesh k; at
    a boundary between meshes the larger label wins) and the (H, W) depth buffer (nearest sample; +inf on the
    background).
    """
    height, width = int(img_shape[0]), int(img_shape[1])
    background = np.asarray(background)
    if background.shape != (height, width, 3):
        raise ValueError(f"background must have shape {(height, width, 3)}, got {background.shape}")
    if len(meshes) > 255:
        raise ValueError("at most 255 meshes per image")
    all_verts, all_faces, all_normals, vert_colour, face_owner = [], [], [], [], []
    offset = 0
    for k, (verts, faces, colour) in enumerate(meshes):
        verts = np.asarray(verts, dtype=np.float64)
        faces = np.asarray(faces, dtype=np.int64)
        all_verts.append(verts)
        all_faces.append(faces + offset)
        all_normals.append(vertex_normals(verts, faces))
        vert_colour.append(np.broadcast_to(np.asarray(colour, dtype=np.float64), verts.shape))
        face_owner.append(np.full(len(faces), k + 1, dtype=np.uint8))
        offset += len(verts)
    verts = np.concatenate(all_verts)
    faces = np.concatenate(all_faces)
    normals = np.concatenate(all_normals)
    colours = np.concatenate(vert_colour)
    owner = np.concatenate(face_owner)

    # sample (i, j) of pixel (r, c) sits at ((c + (j + 0.5) / s - 0.5), (r + (i + 0.5) / s - 0.5)) in pixel units,
    # i.e. the high-resolution image has focal s * f and principal point s * c + (s - 1) / 2
    s = int(supersample)
    focal_hi = (float(focal[0]) * s, float(focal[1]) * s)
    princpt_hi = (float(princpt[0]) * s + (s - 1) / 2.0, float(princpt[1]) * s + (s - 1) / 2.0)
    face_idx, depth, bary = rasterize(verts, faces, focal_hi, princpt_hi, (height * s, width * s))
    covered = face_idx >= 0
    labels_hi = np.zeros(face_idx.shape, dtype=np.uint8)
    labels_hi[covered] = owner[face_idx[covered]]

    image = background.astype(np.float64).reshape(-1, 3)
    labels = np.zeros(height * width, dtype=np.uint8)
    depth_lo = np.full(height * width, np.inf)
    if covered.any():
        rows, cols = np.nonzero(covered)
        fids = face_idx[rows, cols]
        b = bary[rows, cols]  # (N, 3)
        tri = faces[fids]  # (N, 3)
        normal = np.einsum("nk,nkc->nc", b, normals[tri])
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
        point = np.einsum("nk,nkc->nc", b, verts[tri])
        to_camera = -point / np.maximum(np.linalg.norm(point, axis=1, keepdims=True), 1e-12)
        key_light = np.array([0.35, -0.45, -0.82])  # from the upper left, towards the scene
        key_light /= np.linalg.norm(key_light)
        diffuse = 0.55 * np.abs(np.sum(normal * to_camera, axis=1)) + 0.25 * np.abs(normal @ -key_light)
        shade = np.clip(ambient + diffuse, 0.0, 1.15)
        colour = np.einsum("nk,nkc->nc", b, colours[tri]) * shade[:, None]
        # box-filter the samples: covered samples carry the shaded colour, the others the background
        pixel = (rows // s) * width + cols // s
        count = np.bincount(pixel, minlength=height * width).astype(np.float64)
        hit = count > 0
        total = np.stack([np.bincount(pixel, weights=colour[:, ch], minlength=height * width) for ch in range(3)],
                         axis=1)
        image[hit] = (total[hit] + (s * s - count[hit, None]) * image[hit]) / (s * s)
        np.maximum.at(labels, pixel, labels_hi[rows, cols])
        np.minimum.at(depth_lo, pixel, depth[rows, cols])
    image = np.clip(np.round(image), 0, 255).astype(np.uint8).reshape(height, width, 3)
    return image, labels.reshape(height, width), depth_lo.reshape(height, width)


def render_mesh(verts_cam: np.ndarray, faces: np.ndarray, focal: Sequence[float], princpt: Sequence[float],
                img_shape: tuple[int, int], background: np.ndarray,
                color: Sequence[float] = (200, 160, 140)) -> tuple[np.ndarray, np.ndarray]:
    """Render one mesh given in camera space (metres) over ``background``.

    Args:
        verts_cam: (V, 3) vertices in camera space, metres.
        faces: (F, 3) vertex indices.
        focal, princpt: (f_x, f_y), (c_x, c_y) in pixels.
        img_shape: (H, W).
        background: (H, W, 3) uint8 RGB image.
        color: RGB base colour in [0, 255].
    Returns:
        the (H, W, 3) uint8 RGB image and the (H, W) bool mask of pixels covered by the mesh.
    """
    image, labels, _ = render_meshes([(verts_cam, faces, color)], focal, princpt, img_shape, background)
    return image, labels > 0
