"""Mesh and animation files (main/predictor/mesh_files.py): parsed back with trimesh / NumPy, the glTF axis change,
and the saved animation parameters rebuilding the meshes with the SMPL / MANO layers."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import trimesh

from main.predictor.errors import DemoError
from main.predictor.mesh_files import animation_bytes, mesh_bytes, scene_glb_bytes

# a tetrahedron with outward-facing (counter-clockwise seen from outside) faces: positive volume
TETRA_VERTS = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) * 0.25
TETRA_FACES = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])


def _load(data: bytes, fmt: str):
    return trimesh.load(io.BytesIO(data), file_type=fmt, process=False)


@pytest.mark.parametrize("fmt", ["obj", "ply"])
def test_obj_and_ply_parse_back(smpl, fmt):
    rng = np.random.default_rng(0)
    verts = np.asarray(smpl.layer().v_template, dtype=np.float64) + rng.normal(size=(6890, 3)) * 0.01 \
        + np.array([0.1, -0.2, 3.0])
    data = mesh_bytes(verts, smpl.face, fmt)
    mesh = _load(data, fmt)
    assert mesh.vertices.shape == (6890, 3) and mesh.faces.shape == smpl.face.shape
    np.testing.assert_array_equal(mesh.faces, smpl.face)
    np.testing.assert_allclose(mesh.vertices, verts, rtol=0, atol=4e-7 if fmt == "ply" else 1e-8)  # ply: float32
    if fmt == "ply":
        assert data.startswith(b"ply\nformat binary_little_endian 1.0\n")


def test_mesh_format_must_be_obj_or_ply():
    with pytest.raises(DemoError, match="--mesh_format 'glb'"):
        mesh_bytes(TETRA_VERTS, TETRA_FACES, "glb")


def test_glb_scene_one_coloured_node_per_person_in_gltf_axes():
    offsets = (np.array([-0.5, 0.2, 3.0]), np.array([0.5, 0.1, 4.0]))
    meshes = [(TETRA_VERTS + offsets[0], TETRA_FACES, (255, 0, 0)),
              (TETRA_VERTS + offsets[1], TETRA_FACES, (0, 128, 255))]
    scene = _load(scene_glb_bytes(meshes, names=["track_3_body", "track_5_body"]), "glb")
    assert isinstance(scene, trimesh.Scene) and sorted(scene.graph.nodes_geometry) == ["track_3_body", "track_5_body"]
    for (verts, faces, rgb), name in zip(meshes, ["track_3_body", "track_5_body"]):
        transform, geom_name = scene.graph.get(name)
        mesh = scene.geometry[geom_name]
        np.testing.assert_array_equal(transform, np.eye(4))
        # camera (x right, y down, z forward) -> glTF (x right, y up, z toward the viewer)
        want = np.stack([verts[:, 0], -verts[:, 1], -verts[:, 2]], axis=1)
        np.testing.assert_allclose(mesh.vertices, want, rtol=0, atol=5e-7)
        np.testing.assert_array_equal(mesh.faces, faces)
        assert mesh.volume == pytest.approx(0.25 ** 3 / 6, rel=1e-5)  # a rotation: faces still point outward
        assert mesh.visual.material.baseColorFactor.tolist() == [*rgb, 255]
    assert mesh.centroid[2] < 0 and mesh.centroid[1] < 0  # in front of a glTF camera at the origin, below it
    default = _load(scene_glb_bytes(meshes[:1]), "glb")
    assert list(default.graph.nodes_geometry) == ["person_0"]
    with pytest.raises(ValueError, match="distinct names"):
        scene_glb_bytes(meshes, names=["a", "a"])


def _smpl_reference(smpl, poses: np.ndarray, betas: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Camera-space SMPL meshes (T, 6890, 3), metres, through the project's forward: layer output + trans."""
    t = len(poses)
    verts, _ = smpl.forward(torch.as_tensor(poses), torch.as_tensor(betas).expand(t, 10))
    return verts.double().numpy() + trans[:, None]


def test_smpl_animation_file_rebuilds_the_track(smpl):
    rng = np.random.default_rng(1)
    t = 5
    poses = (rng.normal(size=(t, 72)) * 0.2).astype(np.float32)
    trans = (rng.normal(size=(t, 3)) * 0.1 + [0.0, 0.0, 5.0]).astype(np.float32)
    betas = rng.normal(size=10).astype(np.float32)
    frames = np.array([10, 12, 14, 16, 18])
    data = animation_bytes(poses, trans, betas, fps=15.0, frames=frames, model="smpl")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    assert set(a) == {"poses", "trans", "betas", "mocap_framerate", "gender", "frame_index", "model_type"}
    assert a["poses"].shape == (t, 72) and a["trans"].shape == (t, 3) and a["betas"].shape == (10,)
    assert float(a["mocap_framerate"]) == 15.0 and str(a["gender"]) == "neutral" and str(a["model_type"]) == "smpl"
    np.testing.assert_array_equal(a["frame_index"], frames)
    # as docs/results.md tells smplx users: global_orient = poses[:, :3], body_pose = poses[:, 3:], transl = trans
    out = smpl.layer()(global_orient=torch.as_tensor(a["poses"][:, :3]), body_pose=torch.as_tensor(a["poses"][:, 3:]),
                       betas=torch.as_tensor(a["betas"])[None].expand(t, 10), transl=torch.as_tensor(a["trans"]))
    np.testing.assert_allclose(out.vertices.double().numpy(), _smpl_reference(smpl, poses, betas, trans), atol=1e-6)


@pytest.mark.parametrize("is_right", [True, False])
def test_mano_animation_file_rebuilds_the_track(mano, is_right):
    rng = np.random.default_rng(2)
    t = 3
    poses = (rng.normal(size=(t, 48)) * 0.2).astype(np.float32)
    trans = (rng.normal(size=(t, 3)) * 0.1 + [0.0, 0.0, 0.6]).astype(np.float32)
    betas = rng.normal(size=10).astype(np.float32)
    mm, _ = mano.forward(torch.as_tensor(poses), torch.as_tensor(betas).expand(t, 10))
    want = mm.double().numpy() / 1000.0 * (1.0 if is_right else np.array([-1.0, 1.0, 1.0])) + trans[:, None]
    data = animation_bytes(poses, trans, betas, fps=30.0, frames=np.arange(t), model="mano", is_right=is_right)
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    assert str(a["model_type"]) == "mano" and bool(a["is_right"]) is is_right and a["poses"].shape == (t, 48)
    # the documented recipe: the right-hand layer with flat_hand_mean=False, mirrored in x for a left hand, + trans
    out = mano.layer()(global_orient=torch.as_tensor(a["poses"][:, :3]), hand_pose=torch.as_tensor(a["poses"][:, 3:]),
                       betas=torch.as_tensor(a["betas"])[None].expand(t, 10))
    verts = out.vertices.double().numpy()
    if not bool(a["is_right"]):
        verts[..., 0] *= -1
    np.testing.assert_allclose(verts + a["trans"][:, None], want, atol=1e-6)


def test_animation_arguments_are_checked():
    ok = dict(poses=np.zeros((2, 72)), trans=np.zeros((2, 3)), betas=np.zeros(10), fps=30.0, frames=[0, 1])
    animation_bytes(**ok, model="smpl")
    for change, match in (({"poses": np.zeros((2, 48))}, "expected"), ({"frames": [0]}, "expected"),
                          ({"betas": np.zeros(11)}, "expected")):
        with pytest.raises(ValueError, match=match):
            animation_bytes(**{**ok, **change}, model="smpl")
    with pytest.raises(ValueError, match="is_right"):
        animation_bytes(**ok, model="smpl", is_right=True)
    with pytest.raises(ValueError, match="is_right"):
        animation_bytes(**{**ok, "poses": np.zeros((2, 48))}, model="mano")
    with pytest.raises(ValueError, match="animation model"):
        animation_bytes(**ok, model="smplx")
