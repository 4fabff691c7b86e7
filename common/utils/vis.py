"""Visualisation of meshes: vertex drawings, OBJ files, renderings (pyrender or a NumPy fallback).

Conventions: images are (H, W, 3) uint8 **RGB** arrays (converted to BGR only when encoded for OpenCV, see
:func:`encode_jpg`); meshes are given in camera space (metres, OpenCV axes: x right, y down, z forward) with the
pinhole camera ``focal`` (f_x, f_y) and ``princpt`` (c_x, c_y) in pixels; pixel (row r, column c) has its centre at
(u, v) = (c, r), as in :func:`common.utils.transforms.cam2pixel` and :mod:`common.utils.raster`.

Renderers (:class:`MeshRenderer`):

* ``pyrender``: the original's scene (docs/demo.md#original-outputs): flat-shaded opaque material of base colour
  (1.0, 1.0, 0.9), ambient light 0.3, three directional lights of intensity 0.8, intrinsic camera at the identity
  pose after turning the meshes 180 degrees about x (OpenCV -> OpenGL axes).  The principal point is passed shifted
  by half a pixel so that OpenGL's pixel centres (c + 0.5) land on this project's (c); the original passes it
  unshifted.  pyrender is imported only when rendering; the OpenGL platform is chosen by :func:`choose_gl_platform`
  before that import.
* ``numpy``: the z-buffer rasteriser of :mod:`common.utils.raster` (2 x 2 supersampled, Lambertian shading), used
  when no OpenGL context can be created.

Several meshes are rendered in one scene, so the nearest surface wins where people overlap.
"""
from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

__all__ = [
    "MESH_COLOR",
    "SIDE_VIEW_BACKGROUND",
    "RenderResult",
    "MeshRenderer",
    "choose_gl_platform",
    "rainbow_colors",
    "draw_mesh_vertices",
    "mesh_obj_bytes",
    "encode_jpg",
    "side_view",
    "mask_iou",
]

MESH_COLOR = (1.0, 1.0, 0.9)  # RGB base colour of the rendered meshes (the original's material)
SIDE_VIEW_BACKGROUND = (64, 64, 64)  # RGB

Mesh = tuple[np.ndarray, np.ndarray]  # (verts_cam (V, 3) metres, faces (F, 3) int)


# ----- drawings and files ----------------------------------------------------------------------------------------

def rainbow_colors(n: int) -> np.ndarray:
    """(n, 3) uint8 RGB colours of matplotlib's "rainbow" colormap sampled at linspace(0, 1, n).

    The colormap's analytic definition (gnuplot formulas 33, 13, 10): r = |2t - 0.5|, g = sin(pi t),
    b = cos(pi t / 2), each clipped to [0, 1].
    """
    t = np.linspace(0.0, 1.0, max(int(n), 1))[:n]
    rgb = np.stack([np.abs(2.0 * t - 0.5), np.sin(np.pi * t), np.cos(np.pi * t / 2.0)], axis=1)
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def draw_mesh_vertices(img: np.ndarray, verts_xy: Sequence[np.ndarray], radius: int = 1,
                       alpha: float = 0.5) -> np.ndarray:
    """Draw every vertex as a filled anti-aliased circle and blend with the image, as the original demo does.

    Args:
        img: (H, W, 3) uint8 RGB image.
        verts_xy: one (V, >=2) array of pixel coordinates per mesh; coordinates are truncated to int; the colour
            runs over matplotlib's "rainbow" colormap with the vertex index.
        radius: circle radius in pixels.  alpha: weight of the drawing (0.5: 50/50 with the image).
    Returns:
        (H, W, 3) uint8 RGB image; pixels without a circle are unchanged.
    """
    canvas = np.ascontiguousarray(img, dtype=np.uint8).copy()
    for xy in verts_xy:
        xy = np.asarray(xy)
        colors = rainbow_colors(len(xy))
        finite = np.isfinite(xy[:, :2]).all(axis=1)
        for (x, y), color in zip(xy[finite, :2], colors[finite]):
            if abs(x) > 1e6 or abs(y) > 1e6:  # far off-image: nothing to draw, and cv2 needs int32
                continue
            cv2.circle(canvas, (int(x), int(y)), radius, tuple(int(c) for c in color), thickness=-1,
                       lineType=cv2.LINE_AA)
    return cv2.addWeighted(np.asarray(img, dtype=np.uint8), 1.0 - alpha, canvas, alpha, 0)


def mesh_obj_bytes(verts: np.ndarray, faces: np.ndarray) -> bytes:
    """Wavefront OBJ text of a triangle mesh via trimesh, keeping the given vertex order and faces.

    ``verts``: (V, 3) (metres in the demo); ``faces``: (F, 3) 0-based indices (written 1-based by the format).
    No vertex merging or reordering (``process=False``); no normals, colours or texture coordinates.
    """
    import trimesh  # noqa: PLC0415 - optional heavy import, only when writing meshes

    mesh = trimesh.Trimesh(vertices=np.asarray(verts, dtype=np.float64), faces=np.asarray(faces, dtype=np.int64),
                           process=False, validate=False)
    text = trimesh.exchange.obj.export_obj(mesh, include_normals=False, include_color=False,
                                           include_texture=False, digits=8, header=None)
    return text.encode("utf-8")


def encode_jpg(img_rgb: np.ndarray, quality: int = 95) -> bytes:
    """JPEG bytes of an (H, W, 3) uint8 RGB image (converted to OpenCV's BGR first, so colours are right)."""
    bgr = np.ascontiguousarray(np.asarray(img_rgb, dtype=np.uint8)[:, :, ::-1])
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OSError("OpenCV could not encode the image as JPEG")
    return buf.tobytes()


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks of the same shape (1.0 when both are empty)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def side_view(meshes: Sequence[Mesh], angle_deg: float = 90.0) -> list[Mesh]:
    """The meshes turned by ``angle_deg`` about the vertical (camera y) axis through their common centre.

    The centre is the mean of all vertices; rendered with the same camera, this shows the scene from the side.
    """
    centre = np.concatenate([np.asarray(v, dtype=np.float64) for v, _ in meshes]).mean(axis=0)
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    return [((np.asarray(v, dtype=np.float64) - centre) @ rot.T + centre, f) for v, f in meshes]


# ----- rendering -------------------------------------------------------------------------------------------------

def _gpu_driver_present() -> bool:
    """An NVIDIA driver or a DRM render node (/dev/dri/renderD*) is there: EGL can use a GPU."""
    return os.path.exists("/proc/driver/nvidia/version") or bool(glob.glob("/dev/dri/renderD*"))


def choose_gl_platform() -> str:
    """Set ``PYOPENGL_PLATFORM`` (if unset) to ``egl`` when a GPU driver is present, else ``osmesa``; return it.

    Must run before PyOpenGL is first imported: PyOpenGL fixes its platform at import.  A value already set by the
    user is kept.  If OpenGL was imported earlier without the variable, its choice stands and is reported as such.
    """
    current = os.environ.get("PYOPENGL_PLATFORM")
    if current:
        return current
    if "OpenGL" in sys.modules:
        return "(already chosen by an earlier OpenGL import)"
    platform = "egl" if _gpu_driver_present() else "osmesa"
    os.environ["PYOPENGL_PLATFORM"] = platform
    return platform


@dataclass
class RenderResult:
    """``image``: (H, W, 3) uint8 RGB rendering composited over the background; ``depth``: (H, W) float camera z of
    the visible surface (metres, +inf where no mesh); ``renderer``: which backend drew it."""

    image: np.ndarray
    depth: np.ndarray
    renderer: str

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool: pixels covered by a mesh."""
        return np.isfinite(self.depth)


class MeshRenderer:
    """Renders camera-space meshes over an image with pyrender, or with the NumPy rasteriser when OpenGL fails.

    ``backend``: ``'auto'`` (pyrender, falling back to NumPy with a printed reason), ``'pyrender'`` (errors are
    raised) or ``'numpy'``.  One OpenGL context per image size is kept until :meth:`close`.
    """

    def __init__(self, backend: str = "auto") -> None:
        if backend not in ("auto", "pyrender", "numpy"):
            raise ValueError(f"renderer {backend!r}: choose 'auto', 'pyrender' or 'numpy'")
        self.backend = backend
        self.fallback_reason: str | None = None
        self._gl_renderer = None
        self._gl_size: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        """The backend in use: ``pyrender (<platform>)`` or ``numpy``."""
        if self.backend == "numpy" or self.fallback_reason is not None:
            return "numpy"
        return f"pyrender ({os.environ.get('PYOPENGL_PLATFORM', 'default platform')})"

    def render(self, meshes: Sequence[Mesh], focal: Sequence[float], princpt: Sequence[float],
               background: np.ndarray, colors: Sequence[Sequence[float]] | None = None) -> RenderResult:
        """Render ``meshes`` (each (verts_cam (V, 3) metres, faces (F, 3))) over ``background`` (H, W, 3) uint8 RGB.

        ``colors``: one RGB base colour in [0, 1] per mesh (default: :data:`MESH_COLOR` for all)."""
        background = np.asarray(background, dtype=np.uint8)
        colors = [tuple(MESH_COLOR)] * len(meshes) if colors is None else [tuple(c) for c in colors]
        if len(colors) != len(meshes):
            raise ValueError(f"render: {len(colors)} colours for {len(meshes)} meshes")
        if not meshes:
            return RenderResult(image=background.copy(), depth=np.full(background.shape[:2], np.inf),
                                renderer=self.name)
        if self.backend != "numpy" and self.fallback_reason is None:
            try:
                return self._render_pyrender(meshes, focal, princpt, background, colors)
            except Exception as exc:  # OpenGL reports a missing library/context with many exception types
                if self.backend == "pyrender":
                    raise RuntimeError(
                        f"pyrender could not render ({type(exc).__name__}: {exc}); install OSMesa "
                        f"(apt-get install libosmesa6) or set PYOPENGL_PLATFORM=egl/osmesa, or use the NumPy "
                        f"renderer") from exc
                self.fallback_reason = f"{type(exc).__name__}: {exc}"
                print(f"pyrender is not usable here ({self.fallback_reason}); rendering with the NumPy rasteriser")
        return self._render_numpy(meshes, focal, princpt, background, colors)

    def close(self) -> None:
        if self._gl_renderer is not None:
            self._gl_renderer.delete()
            self._gl_renderer = None
            self._gl_size = None

    def __enter__(self) -> "MeshRenderer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ----- backends ----------------------------------------------------------------------------------------------
    def _render_pyrender(self, meshes: Sequence[Mesh], focal, princpt, background: np.ndarray,
                         colors: Sequence[tuple]) -> RenderResult:
        choose_gl_platform()
        import pyrender  # noqa: PLC0415 - imported only when rendering (OpenGL platform set just above)
        import trimesh  # noqa: PLC0415

        height, width = background.shape[:2]
        all_z = np.concatenate([np.asarray(v)[:, 2] for v, _ in meshes])
        znear = float(min(0.05, max(all_z.min(), 1e-3) * 0.5))
        zfar = float(max(100.0, all_z.max() * 1.5))
        scene = pyrender.Scene(ambient_light=(0.3, 0.3, 0.3), bg_color=(0.0, 0.0, 0.0, 0.0))
        flip = trimesh.transformations.rotation_matrix(np.pi, [1.0, 0.0, 0.0])
        for (verts, faces), color in zip(meshes, colors):
            material = pyrender.MetallicRoughnessMaterial(metallicFactor=0.0, alphaMode="OPAQUE",
                                                          baseColorFactor=(*color, 1.0))
            mesh = trimesh.Trimesh(np.asarray(verts, dtype=np.float64), np.asarray(faces), process=False)
            mesh.apply_transform(flip)
            scene.add(pyrender.Mesh.from_trimesh(mesh, material=material, smooth=False), "mesh")
        camera = pyrender.IntrinsicsCamera(fx=float(focal[0]), fy=float(focal[1]), cx=float(princpt[0]) + 0.5,
                                           cy=float(princpt[1]) + 0.5, znear=znear, zfar=zfar)
        scene.add(camera, pose=np.eye(4))
        light = pyrender.DirectionalLight(color=np.ones(3), intensity=0.8)
        for position in ((0.0, -1.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 2.0)):
            pose = np.eye(4)
            pose[:3, 3] = position
            scene.add(light, pose=pose)
        if self._gl_size != (width, height):
            self.close()
            self._gl_renderer = pyrender.OffscreenRenderer(viewport_width=width, viewport_height=height,
                                                           point_size=1.0)
            self._gl_size = (width, height)
        rgba, depth = self._gl_renderer.render(scene, flags=pyrender.RenderFlags.RGBA)
        covered = depth > 0
        image = background.copy()
        image[covered] = rgba[covered, :3]
        return RenderResult(image=image, depth=np.where(covered, depth, np.inf).astype(np.float64),
                            renderer=self.name)

    def _render_numpy(self, meshes: Sequence[Mesh], focal, princpt, background: np.ndarray,
                      colors: Sequence[tuple]) -> RenderResult:
        from common.utils.raster import render_meshes  # noqa: PLC0415 - the project's one software rasteriser

        height, width = background.shape[:2]
        supersample = 2 if height * width <= 4_000_000 else 1
        scene = [(v, f, tuple(255.0 * c for c in color)) for (v, f), color in zip(meshes, colors)]
        image, _, depth = render_meshes(scene, focal, princpt, (height, width),
                                        background, supersample=supersample)
        return RenderResult(image=image, depth=depth, renderer="numpy")
