"""Mesh files (OBJ, PLY, GLB scenes) and per-track animation files (AMASS-style npz) of the demo's results.

Meshes are camera-space metres (x right, y down, z forward).  OBJ and PLY keep those coordinates; a GLB is converted
to glTF's frame (x right, y up, z toward the viewer: y and z negated, a rotation, so the winding stays right).
See docs/results.md#mesh-files and docs/results.md#animation-files.
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np

from common.utils.vis import mesh_obj_bytes
from main.predictor.errors import DemoError

MESH_FORMATS = ("obj", "ply", "glb")
#: camera (OpenCV: y down, z forward) -> glTF (y up, z toward the viewer): 180 degrees about x
CAMERA_TO_GLTF = np.diag([1.0, -1.0, -1.0])
ANIMATION_MODELS = {"smpl": 72, "mano": 48}  # model_type -> pose values per frame


def _trimesh(verts: np.ndarray, faces: np.ndarray, **kwargs):
    import trimesh  # noqa: PLC0415 - heavy import, only when writing meshes

    return trimesh.Trimesh(vertices=np.asarray(verts, dtype=np.float64), faces=np.asarray(faces, dtype=np.int64),
                           process=False, validate=False, **kwargs)


def mesh_bytes(verts: np.ndarray, faces: np.ndarray, fmt: str) -> bytes:
    """One mesh as ``fmt``: "obj" (text) or "ply" (binary little-endian); ``verts`` (V, 3) metres in camera space,
    kept as they are (vertex order too); ``faces`` (F, 3) 0-based.  A GLB goes through :func:`scene_glb_bytes`."""
    if fmt == "obj":
        return mesh_obj_bytes(verts, faces)
    if fmt == "ply":
        import trimesh  # noqa: PLC0415

        return trimesh.exchange.ply.export_ply(_trimesh(verts, faces), encoding="binary", vertex_normal=False)
    raise DemoError(f"--mesh_format {fmt!r}: one mesh per file is written as obj or ply; glb holds a frame's scene")


def scene_glb_bytes(meshes: Sequence[tuple[np.ndarray, np.ndarray, Sequence[float]]],
                    names: Sequence[str] | None = None) -> bytes:
    """A binary glTF scene, one node per mesh: ``meshes`` = (verts (V, 3) camera metres, faces (F, 3), RGB colour
    0..255); ``names`` the nodes' names (default ``person_<k>``).  Vertices are converted to glTF's frame
    (:data:`CAMERA_TO_GLTF`), each mesh gets an opaque, non-metallic material of its colour."""
    import trimesh  # noqa: PLC0415
    from trimesh.visual.material import PBRMaterial  # noqa: PLC0415

    names = list(names) if names is not None else [f"person_{k}" for k in range(len(meshes))]
    if len(names) != len(meshes) or len(set(names)) != len(names):
        raise ValueError(f"scene_glb_bytes: {len(meshes)} meshes need as many distinct names, got {names}")
    scene = trimesh.Scene()
    for (verts, faces, rgb), name in zip(meshes, names):
        colour = [int(round(float(c))) for c in rgb] + [255]
        material = PBRMaterial(name=name, baseColorFactor=colour, metallicFactor=0.0, roughnessFactor=0.8,
                               alphaMode="OPAQUE")
        mesh = _trimesh(np.asarray(verts, dtype=np.float64) @ CAMERA_TO_GLTF.T, faces,
                        visual=trimesh.visual.TextureVisuals(material=material))
        scene.add_geometry(mesh, node_name=name, geom_name=name)
    return trimesh.exchange.gltf.export_glb(scene, include_normals=False)


def animation_bytes(poses: np.ndarray, trans: np.ndarray, betas: np.ndarray, fps: float, frames: np.ndarray,
                    model: str, is_right: bool | None = None) -> bytes:
    """One track's parameters as an AMASS-style npz (docs/results.md#animation-files).

    ``poses`` (T, 72) SMPL / (T, 48) MANO axis-angle as the smplx layer takes it (MANO: ``flat_hand_mean=False``);
    ``trans`` (T, 3) metres in camera space (x right, y down, z forward); ``betas`` (10,) the track's shape;
    ``fps`` frames per second of the saved frames; ``frames`` (T,) their frame indices in the input;
    ``model`` "smpl" or "mano"; ``is_right`` for hands (a left hand: mirror the layer output in x, then add
    ``trans``).  Keys: ``poses``, ``trans``, ``betas``, ``mocap_framerate``, ``gender`` ("neutral"),
    ``frame_index``, ``model_type``, ``is_right`` (hands only).  Readable with ``np.load(allow_pickle=False)``.
    """
    if model not in ANIMATION_MODELS:
        raise ValueError(f"animation model {model!r}: one of {list(ANIMATION_MODELS)}")
    poses = np.asarray(poses, dtype=np.float32)
    n = len(poses)
    trans = np.asarray(trans, dtype=np.float32)
    frames = np.asarray(frames, dtype=np.int64)
    if poses.shape != (n, ANIMATION_MODELS[model]) or trans.shape != (n, 3) or frames.shape != (n,) or \
            np.shape(betas) != (10,):
        raise ValueError(f"animation of {model}: poses {poses.shape}, trans {trans.shape}, frames {frames.shape}, "
                         f"betas {np.shape(betas)}; expected ({n}, {ANIMATION_MODELS[model]}), ({n}, 3), ({n},), (10,)")
    if (model == "mano") != (is_right is not None):
        raise ValueError(f"animation of {model}: is_right is {is_right!r} (a bool for mano, None for smpl)")
    arrays = {"poses": poses, "trans": trans, "betas": np.asarray(betas, dtype=np.float32),
              "mocap_framerate": np.array(float(fps)), "gender": np.array("neutral"), "frame_index": frames,
              "model_type": np.array(model)}
    if is_right is not None:
        arrays["is_right"] = np.array(bool(is_right))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()
