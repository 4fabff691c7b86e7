"""Tests for common/utils/transforms.py: cameras, joint flips, rotation augmentation, voxelisation, the inverse
mapping and Procrustes (docs/conventions.md#camera-model, docs/data.md#rotation-augmentation,
docs/conventions.md#hm-units, docs/conventions.md#inverse-mapping, docs/evaluation.md#procrustes).

Expected values come from hand computation or independent math (scipy rotations, round trips, geometric
properties such as "mirrors about the middle column"), not from re-implementations of the code under test.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from common.utils.preprocessing import generate_patch_image, get_affine_transforms, process_bbox
from common.utils.transforms import (
    affine_points,
    cam2pixel,
    cam2world,
    flip_joints_2d,
    flip_joints_3d,
    flip_smpl_pose,
    flip_translation,
    image_to_hm_xy,
    lixel_to_camera,
    pixel2cam,
    rigid_align,
    rigid_transform_3d,
    rotate_points_3d,
    rotate_root_pose,
    rotation_aug_matrix,
    swap_pairs,
    transform_joint_to_other_db,
    truncation_mask,
    voxelize,
    world2cam,
)

OUT_SHAPE = (256, 256)
HM_SHAPE = (64, 64, 64)
SMPL_FLIP_PAIRS = [
    (1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23), (25, 26), (27, 28),
]


# ------------------------------------------------------------------------------------------------------------------
# cameras
# ------------------------------------------------------------------------------------------------------------------

def test_cam2pixel_hand_values() -> None:
    cam = np.array([[100.0, -50.0, 2000.0], [0.0, 0.0, 500.0]])
    pix = cam2pixel(cam, (1000.0, 1100.0), (320.0, 240.0))
    np.testing.assert_allclose(pix, [[370.0, 212.5, 2000.0], [320.0, 240.0, 500.0]])


def test_cam_pixel_round_trip() -> None:
    rng = np.random.default_rng(0)
    cam = np.column_stack([rng.uniform(-1000, 1000, 50), rng.uniform(-1000, 1000, 50), rng.uniform(2000, 8000, 50)])
    focal = np.array([1145.0, 1143.5], dtype=np.float32)
    princpt = np.array([512.5, 515.4], dtype=np.float32)
    back = pixel2cam(cam2pixel(cam, focal, princpt), focal, princpt)
    np.testing.assert_allclose(back, cam, rtol=1e-9, atol=1e-6)
    cam32 = cam.astype(np.float32)
    pix32 = cam2pixel(cam32, focal, princpt)
    assert pix32.dtype == np.float32
    np.testing.assert_allclose(pixel2cam(pix32, focal, princpt), cam32, rtol=1e-5, atol=1e-2)


def test_world_cam_hand_values_and_round_trip() -> None:
    R = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90 degrees about z
    t = np.array([10.0, 20.0, 30.0])
    np.testing.assert_allclose(world2cam(np.array([[1.0, 0.0, 0.0]]), R, t), [[10.0, 21.0, 30.0]])
    rng = np.random.default_rng(1)
    R = Rotation.random(random_state=2).as_matrix()
    t = rng.normal(size=3) * 1000
    world = rng.normal(size=(30, 3)) * 500
    cam = world2cam(world, R, t)
    np.testing.assert_allclose(cam[5], R @ world[5] + t)
    np.testing.assert_allclose(cam2world(cam, R, t), world, atol=1e-8)


# ------------------------------------------------------------------------------------------------------------------
# joint sets and flips
# ------------------------------------------------------------------------------------------------------------------

def test_transform_joint_to_other_db() -> None:
    src_names = ("A", "B", "C")
    dst_names = ("C", "X", "A", "Y")
    src = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    out = transform_joint_to_other_db(src, src_names, dst_names)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[5, 6], [0, 0], [1, 2], [0, 0]])
    # any trailing shape, e.g. validity (N, 1) and (N, 2, 2)
    valid = transform_joint_to_other_db(np.ones((3, 1)), src_names, dst_names)
    np.testing.assert_array_equal(valid, [[1], [0], [1], [0]])
    cube = np.arange(12.0).reshape(3, 2, 2)
    out3 = transform_joint_to_other_db(cube, src_names, dst_names)
    assert out3.shape == (4, 2, 2)
    np.testing.assert_array_equal(out3[0], cube[2])
    np.testing.assert_array_equal(out3[2], cube[0])
    with pytest.raises(ValueError, match="src_names"):
        transform_joint_to_other_db(src, ("A", "B"), dst_names)


def test_swap_pairs_returns_copy() -> None:
    arr = np.arange(8.0).reshape(4, 2)
    out = swap_pairs(arr, [(0, 3)])
    np.testing.assert_array_equal(out, [[6, 7], [2, 3], [4, 5], [0, 1]])
    np.testing.assert_array_equal(arr, np.arange(8.0).reshape(4, 2))


def test_flip_joints_2d() -> None:
    joints = np.array([[0.0, 5.0, 100.0], [10.0, 6.0, 200.0], [639.0, 7.0, 300.0]])
    out = flip_joints_2d(joints, 640, [(0, 1)])
    # u -> 639 - u, then rows 0 and 1 exchanged; v and depth untouched
    np.testing.assert_array_equal(out, [[629.0, 6.0, 200.0], [639.0, 5.0, 100.0], [0.0, 7.0, 300.0]])
    assert joints[0, 0] == 0.0  # input untouched
    np.testing.assert_array_equal(flip_joints_2d(out, 640, [(0, 1)]), joints)


def test_flip_joints_2d_matches_flipped_crop() -> None:
    """A bright pixel at (u, v) appears in the flipped crop where img2bb puts the flipped joint."""
    img = np.zeros((256, 300, 3), dtype=np.float32)
    u, v = 70, 90
    img[v, u] = 255.0
    bbox = (21.0, 0.0, 256.0, 256.0)  # pixel-aligned 1:1 crop once mirrored (centre 149 -> 150)
    patch, img2bb, _ = generate_patch_image(img, bbox, 1.0, 0.0, True, OUT_SHAPE)
    joint = flip_joints_2d(np.array([[u, v]], dtype=np.float64), img.shape[1], [])
    cu, cv = np.rint(affine_points(joint, img2bb)[0]).astype(int)
    assert patch[cv, cu, 0] == pytest.approx(255.0, abs=1e-3)
    assert patch.sum() == pytest.approx(3 * 255.0, abs=1e-2)


def test_flip_joints_3d() -> None:
    rng = np.random.default_rng(3)
    joints = rng.normal(size=(5, 3))
    out = flip_joints_3d(joints, [(1, 3)])
    np.testing.assert_array_equal(out[0], joints[0] * [-1, 1, 1])
    np.testing.assert_array_equal(out[1], joints[3] * [-1, 1, 1])
    np.testing.assert_array_equal(out[3], joints[1] * [-1, 1, 1])
    np.testing.assert_array_equal(flip_joints_3d(out, [(1, 3)]), joints)


def test_flip_smpl_pose() -> None:
    rng = np.random.default_rng(4)
    pose = rng.normal(scale=0.5, size=72).astype(np.float32)
    out = flip_smpl_pose(pose, SMPL_FLIP_PAIRS)  # pairs beyond 24 (face keypoints) are ignored
    assert out.shape == (72,) and out is not pose
    rows, out_rows = pose.reshape(24, 3), out.reshape(24, 3)
    np.testing.assert_array_equal(out_rows[0], rows[0] * [1, -1, -1])
    np.testing.assert_array_equal(out_rows[1], rows[2] * [1, -1, -1])
    np.testing.assert_array_equal(out_rows[23], rows[22] * [1, -1, -1])
    np.testing.assert_array_equal(out_rows[3], rows[3] * [1, -1, -1])
    np.testing.assert_array_equal(flip_smpl_pose(out, SMPL_FLIP_PAIRS), pose)
    # geometric meaning: (x, -y, -z) is the axis-angle of M R M with the mirror M = diag(-1, 1, 1)
    M = np.diag([-1.0, 1.0, 1.0])
    for j in (0, 3, 9):
        mirrored = M @ Rotation.from_rotvec(rows[j].astype(np.float64)).as_matrix() @ M
        flipped = Rotation.from_rotvec(out_rows[j].astype(np.float64)).as_matrix()
        np.testing.assert_allclose(flipped, mirrored, atol=1e-6)


def test_flip_translation_mirrors_about_middle_column() -> None:
    focal_x, princpt_x, W = 1500.0, 300.0, 640
    for root_x, root_z in [(0.3, 4.0), (-1.2, 2.5), (0.0, 10.0)]:
        dx = flip_translation(root_x, root_z, focal_x, princpt_x, W)
        u_before = root_x / root_z * focal_x + princpt_x
        u_after = (root_x + dx) / root_z * focal_x + princpt_x
        assert u_after == pytest.approx(W - 1 - u_before, abs=1e-9)
    # millimetres and metres give the same offset up to the unit
    assert flip_translation(300.0, 4000.0, focal_x, princpt_x, W) == pytest.approx(
        1000 * flip_translation(0.3, 4.0, focal_x, princpt_x, W))


# ------------------------------------------------------------------------------------------------------------------
# rotation augmentation
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rot", [0.0, 30.0, -47.5, 60.0, 90.0])
def test_rotation_aug_matrix(rot: float) -> None:
    R = rotation_aug_matrix(rot)
    assert R.dtype == np.float32 and R.shape == (3, 3)
    np.testing.assert_allclose(R, Rotation.from_euler("z", -rot, degrees=True).as_matrix(), atol=1e-6)


def test_rotation_aug_matches_image_warp_direction() -> None:
    """The linear part of img2bb for a square box is k · R_aug[:2, :2]: image and 3D targets rotate alike."""
    for rot in (25.0, -60.0):
        img2bb, _ = get_affine_transforms(300.0, 200.0, 128.0, 128.0, OUT_SHAPE, 1.0, rot)
        np.testing.assert_allclose(img2bb[:, :2] / 2.0, rotation_aug_matrix(rot)[:2, :2], atol=1e-5)


def test_rotate_points_3d() -> None:
    np.testing.assert_allclose(rotate_points_3d(np.array([[1.0, 0.0, 5.0]]), 90.0), [[0.0, -1.0, 5.0]], atol=1e-6)
    rng = np.random.default_rng(5)
    pts = rng.normal(size=(10, 3))
    expected = Rotation.from_euler("z", -33.0, degrees=True).apply(pts)
    np.testing.assert_allclose(rotate_points_3d(pts, 33.0), expected, atol=1e-6)


@pytest.mark.parametrize("rot", [0.0, 35.0, -58.0])
def test_rotate_root_pose_matches_scipy(rot: float) -> None:
    rng = np.random.default_rng(6)
    pose = rng.normal(scale=0.8, size=72).astype(np.float32)
    out = rotate_root_pose(pose, rot)
    assert out.shape == (72,) and out.dtype == np.float32
    np.testing.assert_array_equal(out[3:], pose[3:])
    R_aug = Rotation.from_euler("z", -rot, degrees=True).as_matrix()
    expected = R_aug @ Rotation.from_rotvec(pose[:3].astype(np.float64)).as_matrix()
    np.testing.assert_allclose(Rotation.from_rotvec(out[:3].astype(np.float64)).as_matrix(), expected, atol=1e-5)
    out64 = rotate_root_pose(pose.astype(np.float64), rot)
    assert out64.dtype == np.float64
    # MANO-sized (48,) pose works too
    assert rotate_root_pose(np.zeros(48, np.float32), rot).shape == (48,)


# ------------------------------------------------------------------------------------------------------------------
# voxelisation, truncation, inverse mapping
# ------------------------------------------------------------------------------------------------------------------

def test_affine_points_hand_values() -> None:
    trans = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, -1.0]], dtype=np.float32)
    np.testing.assert_allclose(affine_points(np.array([[1.0, 1.0], [0.0, 2.0]]), trans), [[3.0, 2.0], [1.0, 5.0]])


def test_voxelize_hand_values() -> None:
    img2bb, _ = get_affine_transforms(128.0, 128.0, 256.0, 256.0, OUT_SHAPE, 1.0, 0.0)  # identity crop
    joints = np.array([[128.0, 64.0, 5000.0], [0.0, 255.0, 6000.0], [200.0, 100.0, 4000.0]])
    out = voxelize(joints, 5000.0, img2bb, 2000.0, OUT_SHAPE, HM_SHAPE)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[32.0, 16.0, 32.0], [0.0, 63.75, 64.0], [50.0, 25.0, 0.0]], atol=1e-4)
    # metres with S' = 2 give the same grid; hands: one bin = 0.3 / 64 m
    np.testing.assert_allclose(voxelize(joints / [1, 1, 1000], 5.0, img2bb, 2.0)[:, 2], [32.0, 64.0, 0.0], atol=1e-4)
    one_bin = voxelize(np.array([[0.0, 0.0, 0.5 + 0.3 / 64]]), 0.5, img2bb, 0.3)
    np.testing.assert_allclose(one_bin[0, 2], 33.0, atol=1e-4)
    np.testing.assert_allclose(image_to_hm_xy(joints[:, :2], img2bb), out[:, :2])


def test_truncation_mask_edges() -> None:
    coords = np.array([
        [0.0, 0.0, 0.0],  # in
        [63.999, 63.999, 63.999],  # in
        [64.0, 10.0, 10.0],  # x out
        [-0.001, 10.0, 10.0],  # x out
        [10.0, 64.0, 10.0],  # y out
        [10.0, -0.001, 10.0],  # y out
        [10.0, 10.0, 64.0],  # z out (in when z is not checked)
        [10.0, 10.0, -0.001],  # z out (in when z is not checked)
    ], dtype=np.float32)
    mask = truncation_mask(coords, HM_SHAPE)
    assert mask.shape == (8, 1) and mask.dtype == np.float32
    np.testing.assert_array_equal(mask[:, 0], [1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(truncation_mask(coords, HM_SHAPE, check_z=False)[:, 0], [1, 1, 0, 0, 0, 0, 1, 1])
    mask_xy = truncation_mask(coords[:, :2], HM_SHAPE, check_z=False)
    np.testing.assert_array_equal(mask_xy[:, 0], [1, 1, 0, 0, 0, 0, 1, 1])
    # non-cubic grid (D, H, W) = (8, 16, 32)
    np.testing.assert_array_equal(truncation_mask(np.array([[31.0, 15.0, 7.0], [31.0, 16.0, 7.0], [31.0, 15.0, 8.0]]),
                                                  (8, 16, 32))[:, 0], [1, 0, 0])


def _random_body(rng: np.random.Generator, n: int, root_depth: float, extent: float) -> np.ndarray:
    pts = rng.uniform(-extent, extent, size=(n, 3))
    pts[:, 2] += root_depth
    return pts


@pytest.mark.parametrize(("scale", "rot"), [(1.0, 0.0), (1.15, 37.0), (0.8, -55.0)])
def test_voxelize_lixel_to_camera_round_trip_mm(scale: float, rot: float) -> None:
    rng = np.random.default_rng(7)
    focal = np.array([1145.0, 1144.0], dtype=np.float32)
    princpt = np.array([512.0, 515.0], dtype=np.float32)
    cam = _random_body(rng, 40, 5000.0, 700.0).astype(np.float32)
    cam[0] = (0.0, 0.0, 5000.0)  # the root, at the centre of the depth range
    root_depth = float(cam[0, 2])
    joint_img = cam2pixel(cam, focal, princpt)
    u, v = joint_img[:, 0], joint_img[:, 1]
    bbox = process_bbox((u.min(), v.min(), u.max() - u.min(), v.max() - v.min()), 1000, 1002)
    assert bbox is not None
    img2bb, bb2img = get_affine_transforms(bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2, bbox[2], bbox[3],
                                           OUT_SHAPE, scale, rot)
    hm = voxelize(joint_img, root_depth, img2bb, 2000.0, OUT_SHAPE, HM_SHAPE)
    back = lixel_to_camera(hm, bb2img, root_depth, 2000.0, focal, princpt, OUT_SHAPE, HM_SHAPE)
    assert back.dtype == np.float32 and back.shape == cam.shape
    np.testing.assert_allclose(back, cam, atol=0.05)  # mm
    if scale == 1.0 and rot == 0.0:
        # the box is 1.25x the joints' extent, so every joint is inside the grid
        assert truncation_mask(hm, HM_SHAPE).all()


def test_voxelize_lixel_to_camera_round_trip_metres_hand() -> None:
    rng = np.random.default_rng(8)
    focal, princpt = (500.0, 500.0), (112.0, 112.0)
    cam = _random_body(rng, 21, 0.7, 0.08)
    root_depth = float(cam[0, 2])
    joint_img = cam2pixel(cam, focal, princpt)
    img2bb, bb2img = get_affine_transforms(112.0, 112.0, 150.0, 150.0, OUT_SHAPE, 1.1, 20.0)
    hm = voxelize(joint_img, root_depth, img2bb, 0.3)
    back = lixel_to_camera(hm, bb2img, root_depth, 0.3, focal, princpt)
    np.testing.assert_allclose(back, cam, atol=1e-5)  # metres


def test_lixel_to_camera_hand_values() -> None:
    _, bb2img = get_affine_transforms(128.0, 128.0, 256.0, 256.0, OUT_SHAPE, 1.0, 0.0)  # identity crop
    hm = np.array([[32.0, 32.0, 32.0], [48.0, 16.0, 64.0]], dtype=np.float32)
    out = lixel_to_camera(hm, bb2img, 5000.0, 2000.0, (1000.0, 1000.0), (128.0, 128.0))
    # (128, 128) is the principal point -> X = Y = 0 at the root depth; (192, 64) at 6000 mm -> (384, -384)
    np.testing.assert_allclose(out, [[0.0, 0.0, 5000.0], [384.0, -384.0, 6000.0]], atol=1e-3)


# ------------------------------------------------------------------------------------------------------------------
# Procrustes
# ------------------------------------------------------------------------------------------------------------------

def _closed_form_similarity(P: np.ndarray, G: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Independent fit: rotation from scipy's Kabsch solver, then the optimal scale and translation for it."""
    mu_p, mu_g = P.mean(0), G.mean(0)
    R = Rotation.align_vectors(G - mu_g, P - mu_p)[0].as_matrix()
    p_rot = (P - mu_p) @ R.T
    c = float(np.sum((G - mu_g) * p_rot) / np.sum((P - mu_p) ** 2))
    return c, R, mu_g - c * R @ mu_p


def test_rigid_transform_recovers_exact_similarity() -> None:
    rng = np.random.default_rng(9)
    for k in range(5):
        P = rng.normal(size=(14, 3)) * 300
        R0 = Rotation.random(random_state=k).as_matrix()
        c0 = rng.uniform(0.5, 2.0)
        t0 = rng.normal(size=3) * 500
        G = c0 * P @ R0.T + t0
        c, R, t = rigid_transform_3d(P, G)
        assert c == pytest.approx(c0, rel=1e-9)
        np.testing.assert_allclose(R, R0, atol=1e-9)
        np.testing.assert_allclose(t, t0, atol=1e-6)
        np.testing.assert_allclose(rigid_align(P, G), G, atol=1e-6)


def test_rigid_align_matches_independent_fit_with_noise() -> None:
    rng = np.random.default_rng(10)
    P = rng.normal(size=(14, 3)) * 0.3
    G = 1.3 * P @ Rotation.random(random_state=11).as_matrix().T + [0.1, -0.2, 0.05] + rng.normal(size=(14, 3)) * 0.02
    c, R, t = rigid_transform_3d(P, G)
    c_ref, R_ref, t_ref = _closed_form_similarity(P, G)
    assert c == pytest.approx(c_ref, rel=1e-9)
    np.testing.assert_allclose(R, R_ref, atol=1e-9)
    np.testing.assert_allclose(t, t_ref, atol=1e-9)
    aligned = rigid_align(P, G)
    err = np.linalg.norm(aligned - G, axis=1).mean()
    # the uncorrected translation (scale missing) is worse whenever c != 1
    old = (c * P @ R.T) + (G.mean(0) - R @ P.mean(0))
    assert err < np.linalg.norm(old - G, axis=1).mean()
    # the aligned centroid coincides with the GT centroid
    np.testing.assert_allclose(aligned.mean(0), G.mean(0), atol=1e-12)


def test_rigid_transform_reflection_gives_proper_rotation() -> None:
    rng = np.random.default_rng(12)
    P = rng.normal(size=(14, 3))
    G = P * [-1.0, 1.0, 1.0] + rng.normal(size=(14, 3)) * 0.01  # a mirror image: best orthogonal map has det -1
    c, R, t = rigid_transform_3d(P, G)
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    c_ref, R_ref, t_ref = _closed_form_similarity(P, G)
    np.testing.assert_allclose(R, R_ref, atol=1e-6)
    assert c == pytest.approx(c_ref, rel=1e-6)
    np.testing.assert_allclose(t, t_ref, atol=1e-6)


def test_rigid_transform_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="shape"):
        rigid_transform_3d(np.zeros((14, 3)), np.zeros((13, 3)))
