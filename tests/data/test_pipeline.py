"""Tests for data/pipeline.py and data/fitting.py, the shared sample pipeline: sample dicts, native and fit targets,
flips, truncation masks, fitting checks (docs/data.md#pipeline, docs/data.md#sample-dicts,
docs/data.md#native-targets, docs/data.md#fit-targets, docs/data.md#fit-checks).

Records are built here directly (no file format involved): a synthetic SMPL body (or MANO hand) is posed, rendered
into an image with the project's rasteriser, and its own joints serve as the "native" annotation, so every target
has an independent expected value (projection, silhouette, the body's own joints, hand computation).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from common.utils.preprocessing import AugParams, process_bbox
from common.utils.raster import render_mesh
from common.utils.transforms import (
    affine_points,
    cam2pixel,
    flip_joints_2d,
    flip_joints_3d,
    flip_smpl_pose,
    flip_translation,
    lixel_to_camera,
    swap_pairs,
    world2cam,
)
from data.fitting import (
    ProjectedKeypointsCheck,
    RegressedJointsCheck,
    append_pelvis,
    fit_model,
    merge_camera_rotation,
    posed_model,
)
from data.pipeline import load_crop, make_test_sample, make_train_sample, native_joints
from data.records import (
    TRAIN_META_KEYS,
    TRAIN_TARGET_KEYS,
    CameraParams,
    Grid,
    JointSet,
    ModelParams,
    PipelineSpec,
    SampleRecord,
)

H, W = 360, 480
FOCAL = (600.0, 602.0)
PRINCPT = (W / 2 + 7.0, H / 2 - 4.0)
GRID = Grid((256, 256), (64, 64, 64), 2.0)


def _body_params(seed: int, big_shape: bool = False) -> ModelParams:
    rng = np.random.default_rng(seed)
    pose = np.zeros(72)
    pose[3:] = rng.normal(0.0, 0.15, 69)
    pose[:3] = Rotation.from_euler("xy", [np.pi, rng.uniform(-0.8, 0.8)]).as_rotvec()  # upright, facing camera
    shape = np.clip(rng.normal(0.0, 0.8, 10), -2, 2)
    if big_shape:
        shape[1] = 3.5
    return ModelParams.make(pose, shape, [rng.uniform(-0.15, 0.15), rng.uniform(0.0, 0.2), 4.0])


def _render(tmp_path: Path, name: str, mesh_m: np.ndarray, faces: np.ndarray) -> tuple[Path, np.ndarray]:
    """Render ``mesh_m`` (camera space, metres) on black; return the PNG path and the (H, W) silhouette."""
    img, mask = render_mesh(mesh_m, faces, FOCAL, PRINCPT, (H, W), np.zeros((H, W, 3), np.uint8),
                            color=(200, 200, 200))
    path = tmp_path / f"{name}.png"
    cv2.imwrite(str(path), np.ascontiguousarray(img[:, :, ::-1]))
    return path, mask


def _smpl_joint_set(smpl) -> JointSet:
    return JointSet(tuple(smpl.joints_name), tuple(smpl.flip_pairs), smpl.root_joint_idx)


@pytest.fixture(scope="module")
def body(smpl, tmp_path_factory):
    """A rendered body whose native joints (mm, MuCo-style camera-frame record) are its own 29 fit joints."""
    tmp = tmp_path_factory.mktemp("body")
    params = _body_params(3)
    mesh, joints = posed_model(smpl, params.pose, params.shape)
    mesh, joints = mesh + params.trans, joints + params.trans
    path, mask = _render(tmp, "body", mesh, smpl.face)
    ys, xs = np.nonzero(mask)
    bbox = process_bbox([xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()], W, H)
    joint_cam = joints * 1000.0
    record = SampleRecord(
        img_path=path, img_shape=(H, W), bbox=bbox, cam=CameraParams.make(FOCAL, PRINCPT),
        joint_img=cam2pixel(joint_cam, FOCAL, PRINCPT).astype(np.float32), joint_cam=joint_cam.astype(np.float32),
        joint_valid=np.ones((29, 1), np.float32), params=params)
    joint_set = _smpl_joint_set(smpl)
    regressor = np.asarray(smpl.joint_regressor[:17], dtype=np.float64)
    spec = PipelineSpec(joint_set=joint_set, is_3d=True, unit_per_m=1000.0,
                        fit_check=RegressedJointsCheck(regressor, joint_set.names, joint_set.names[:17]))
    return {"record": record, "spec": spec, "mesh": mesh, "joints": joints, "mask": mask, "regressor": regressor}


def _sample(record, spec, smpl, scale=1.0, rot=0.0, flip=False):
    return make_train_sample(record, AugParams(scale, rot, (1.0, 1.0, 1.0), flip), smpl, spec, GRID)


# --------------------------------------------------------------------------------------------------------------------
# dictionaries
# --------------------------------------------------------------------------------------------------------------------

def test_train_sample_keys_shapes_dtypes(smpl, body) -> None:
    inputs, targets, meta = _sample(body["record"], body["spec"], smpl, 1.1, 25.0, True)
    assert list(inputs) == ["img"] and tuple(inputs["img"].shape) == (3, 256, 256)
    assert str(inputs["img"].dtype) == "torch.float32"
    assert 0.0 <= float(inputs["img"].min()) and float(inputs["img"].max()) <= 1.0 and float(inputs["img"].max()) > 0.5
    assert tuple(targets) == TRAIN_TARGET_KEYS and tuple(meta) == TRAIN_META_KEYS
    shapes = {"orig_joint_img": (29, 3), "fit_joint_img": (29, 3), "fit_mesh_img": (6890, 3),
              "orig_joint_cam": (29, 3), "fit_joint_cam": (29, 3), "pose_param": (72,), "shape_param": (10,),
              "orig_joint_valid": (29, 1), "orig_joint_trunc": (29, 1), "fit_joint_trunc": (29, 1),
              "fit_mesh_trunc": (6890, 1)}
    for key, shape in shapes.items():
        value = targets.get(key, meta.get(key))
        assert value.shape == shape and value.dtype == np.float32, key
    assert type(meta["is_valid_fit"]) is float and type(meta["is_3D"]) is float
    assert meta["is_valid_fit"] == 1.0 and meta["is_3D"] == 1.0


def test_test_sample(body) -> None:
    inputs, targets, meta = make_test_sample(body["record"], GRID, {"x": np.zeros((2, 3), np.float64)})
    assert tuple(inputs["img"].shape) == (3, 256, 256)
    assert list(targets) == ["x"] and targets["x"].dtype == np.float32
    assert list(meta) == ["bb2img_trans"] and meta["bb2img_trans"].shape == (2, 3)
    assert meta["bb2img_trans"].dtype == np.float32
    # identity crop: the box corners map to the crop corners
    x, y, w, h = body["record"].bbox
    np.testing.assert_allclose(affine_points(np.array([[0.0, 0.0], [256.0, 256.0]]), meta["bb2img_trans"]),
                               [[x, y], [x + w, y + h]], atol=1e-3)


# --------------------------------------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale,rot", [(1.0, 0.0), (0.8, 35.0), (1.2, -50.0)])
def test_fit_mesh_lands_on_silhouette_and_projection(smpl, body, scale, rot) -> None:
    record = body["record"]
    aug = AugParams(scale, rot, (1.0, 1.0, 1.0), False)
    inputs, targets, meta = make_train_sample(record, aug, smpl, body["spec"], GRID)
    _, img2bb, bb2img = load_crop(record, aug, GRID)
    mesh_img = targets["fit_mesh_img"]
    # hm -> crop px -> original image through bb2img: the GT projection of the rendered mesh
    crop_px = mesh_img[:, :2] * 4.0
    np.testing.assert_allclose(affine_points(crop_px, bb2img), cam2pixel(body["mesh"], FOCAL, PRINCPT)[:, :2],
                               atol=0.05)
    # the crop's rendered pixels (black background) contain the visible vertices
    crop_mask = inputs["img"].numpy().sum(0) > 0
    ij = np.round(crop_px).astype(int)  # OpenCV: pixel centres at integer coordinates
    inside = meta["fit_mesh_trunc"][:, 0] > 0
    assert inside.mean() > 0.8
    near = np.zeros_like(crop_mask)
    near[1:-1, 1:-1] = crop_mask[:-2, 1:-1] | crop_mask[2:, 1:-1] | crop_mask[1:-1, :-2] | crop_mask[1:-1, 2:]
    hits = (crop_mask | near)[np.clip(ij[inside, 1], 0, 255), np.clip(ij[inside, 0], 0, 255)]
    assert hits.mean() > 0.97
    # depth: z_hm = (Z - Z_root) / 2000 mm * 64 + 32 with the fitted (SMPL kinematic) root
    z_mm = body["mesh"][:, 2] * 1000.0
    np.testing.assert_allclose(mesh_img[:, 2], (z_mm - body["joints"][0, 2] * 1000.0) / 2000.0 * 64 + 32, atol=1e-3)
    # the test-time inverse mapping recovers the camera-space mesh
    back = lixel_to_camera(mesh_img, bb2img, body["joints"][0, 2] * 1000.0, 2000.0, FOCAL, PRINCPT)
    np.testing.assert_allclose(back, body["mesh"] * 1000.0, atol=0.5)


def test_native_equals_fit_for_consistent_annotation(smpl, body) -> None:
    _, targets, meta = _sample(body["record"], body["spec"], smpl, 0.9, 40.0, False)
    np.testing.assert_allclose(targets["orig_joint_img"], targets["fit_joint_img"], atol=1e-4)
    np.testing.assert_allclose(targets["orig_joint_cam"], targets["fit_joint_cam"], atol=1e-6)
    np.testing.assert_array_equal(meta["orig_joint_trunc"], meta["fit_joint_trunc"])
    np.testing.assert_array_equal(meta["orig_joint_valid"], np.ones((29, 1)))
    # camera joints: root-relative, metres, rotated by -40 degrees about z
    rel = body["joints"] - body["joints"][0]
    c, s = np.cos(np.deg2rad(-40.0)), np.sin(np.deg2rad(-40.0))
    expected = rel @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
    np.testing.assert_allclose(targets["fit_joint_cam"], expected, atol=1e-5)
    # pose target: root rotated by R_aug, the rest unchanged
    root = Rotation.from_rotvec(targets["pose_param"][:3]).as_matrix()
    orig_root = Rotation.from_rotvec(body["record"].params.pose[:3]).as_matrix()
    np.testing.assert_allclose(root, Rotation.from_euler("z", -40, degrees=True).as_matrix() @ orig_root, atol=1e-5)
    np.testing.assert_allclose(targets["pose_param"][3:], body["record"].params.pose[3:], atol=1e-7)
    assert meta["is_valid_fit"] == 1.0


def test_native_flip_mirrors_targets(smpl, body) -> None:
    """With rotation 0 a flipped crop is the mirror of the plain one: x_hm -> 64 - x_hm, pairs swapped."""
    _, plain, _ = _sample(body["record"], body["spec"], smpl, 1.0, 0.0, False)
    _, flipped, meta = _sample(body["record"], body["spec"], smpl, 1.0, 0.0, True)
    pairs = smpl.flip_pairs
    mirrored = swap_pairs(flipped["orig_joint_img"], pairs)
    mirrored[:, 0] = 64.0 - mirrored[:, 0]
    np.testing.assert_allclose(mirrored, plain["orig_joint_img"], atol=2e-3)
    cam = swap_pairs(flipped["orig_joint_cam"], pairs)
    cam[:, 0] *= -1
    np.testing.assert_allclose(cam, plain["orig_joint_cam"], atol=1e-6)
    # the parameter-flipped fit mirrors the root about the image's middle column: projected root at W-1-u
    root_u = cam2pixel(body["joints"][:1], FOCAL, PRINCPT)[0, 0]
    _, img2bb, bb2img = load_crop(body["record"], AugParams(1.0, 0.0, (1, 1, 1), True), GRID)
    root_flipped_u = affine_points(flipped["fit_joint_img"][:1, :2] * 4.0, bb2img)[0, 0]
    assert root_flipped_u == pytest.approx(W - 1 - root_u, abs=0.05)
    assert meta["is_valid_fit"] == 1.0  # the synthetic body is nearly symmetric: small fitting error


def _flip_record(record: SampleRecord, smpl, joint_set: JointSet, tmp_path: Path) -> SampleRecord:
    """The same annotation for the horizontally mirrored image (camera-frame params)."""
    img = cv2.imread(str(record.img_path))
    path = tmp_path / "mirrored.png"
    cv2.imwrite(str(path), np.ascontiguousarray(img[:, ::-1]))
    params = record.params
    pose = flip_smpl_pose(params.pose, smpl.orig_flip_pairs)
    _, joints = posed_model(smpl, params.pose, params.shape)
    root = joints[0] + params.trans
    trans = params.trans.copy()
    trans[0] += flip_translation(root[0], root[2], FOCAL[0], PRINCPT[0], W)
    x, y, w, h = record.bbox
    cam_rel = record.joint_cam - record.joint_cam[joint_set.root_idx]
    return SampleRecord(
        img_path=path, img_shape=record.img_shape, bbox=np.array([W - 1 - x - w, y, w, h]), cam=record.cam,
        joint_img=flip_joints_2d(record.joint_img, W, joint_set.flip_pairs),
        joint_cam=flip_joints_3d(cam_rel, joint_set.flip_pairs) + 1234.0,
        joint_valid=swap_pairs(record.joint_valid, joint_set.flip_pairs),
        params=ModelParams.make(pose, params.shape, trans))


def test_flip_twice_is_identity(smpl, body, tmp_path) -> None:
    record = body["record"]
    record.joint_valid[3] = 0.0  # asymmetric validity must follow the flip too
    try:
        mirrored = _flip_record(record, smpl, body["spec"].joint_set, tmp_path)
        for rot in (0.0, 30.0):
            a_in, a_t, a_m = _sample(record, body["spec"], smpl, 1.1, rot, False)
            b_in, b_t, b_m = _sample(mirrored, body["spec"], smpl, 1.1, rot, True)
            assert float((a_in["img"] - b_in["img"]).abs().max()) < 1e-6
            for key in TRAIN_TARGET_KEYS:
                np.testing.assert_allclose(b_t[key], a_t[key], atol=2e-3, err_msg=key)
            for key in TRAIN_META_KEYS:
                np.testing.assert_array_equal(b_m[key], a_m[key], err_msg=key)
            assert a_m["orig_joint_valid"][3, 0] == 0.0
    finally:
        record.joint_valid[3] = 1.0


def test_truncation_masks(smpl, body) -> None:
    """A strong zoom (scale 0.45) cuts the feet/head out of the crop: masks follow the grid bounds exactly."""
    _, targets, meta = _sample(body["record"], body["spec"], smpl, 0.45, 0.0, False)
    for coords, mask in ((targets["fit_mesh_img"], meta["fit_mesh_trunc"]),
                         (targets["fit_joint_img"], meta["fit_joint_trunc"]),
                         (targets["orig_joint_img"], meta["orig_joint_trunc"])):
        inside = np.all((coords >= 0) & (coords < 64), axis=1)
        np.testing.assert_array_equal(mask[:, 0], inside.astype(np.float32))
    assert 0.0 < meta["fit_mesh_trunc"].mean() < 1.0


# --------------------------------------------------------------------------------------------------------------------
# SMPL specifics
# --------------------------------------------------------------------------------------------------------------------

def test_world_frame_camera_merge_and_translation_compensation(smpl, body) -> None:
    """H36M-style params (world pose/trans, camera R, t in mm) give the camera-space mesh R·(mesh_w + trans_w) + t."""
    world = _body_params(11)
    R = Rotation.from_euler("xyz", [100, -20, 35], degrees=True).as_matrix()
    t = np.array([150.0, -80.0, 4500.0])
    mesh_w, _ = posed_model(smpl, world.pose, world.shape)
    expected = world2cam((mesh_w + world.trans) * 1000.0, R, t)  # mm
    record = SampleRecord(img_path=body["record"].img_path, img_shape=(H, W), bbox=body["record"].bbox,
                          cam=CameraParams.make(FOCAL, PRINCPT, R, t), params=world)
    spec = PipelineSpec(joint_set=None, is_3d=True, unit_per_m=1000.0, world_frame_params=True)
    aug = AugParams(1.0, 0.0, (1, 1, 1), False)
    _, img2bb, _ = load_crop(record, aug, GRID)
    fit = fit_model(smpl, record, spec, aug, img2bb, GRID)
    np.testing.assert_allclose(fit.mesh, expected, atol=0.05)
    merged = merge_camera_rotation(world.pose[:3], R)
    np.testing.assert_allclose(Rotation.from_rotvec(merged).as_matrix(),
                               R @ Rotation.from_rotvec(world.pose[:3]).as_matrix(), atol=1e-5)
    np.testing.assert_allclose(fit.pose_param[:3], merged, atol=1e-6)


def test_shape_reset_after_mesh(smpl, body) -> None:
    params = _body_params(5, big_shape=True)
    record = SampleRecord(img_path=body["record"].img_path, img_shape=(H, W), bbox=body["record"].bbox,
                          cam=CameraParams.make(FOCAL, PRINCPT), params=params)
    spec = PipelineSpec(joint_set=None, is_3d=True, unit_per_m=1000.0)
    _, targets, meta = _sample(record, spec, smpl)
    np.testing.assert_array_equal(targets["shape_param"], np.zeros(10))
    mesh, _ = posed_model(smpl, params.pose, params.shape)  # the original betas
    u = cam2pixel((mesh + params.trans) * 1000.0, FOCAL, PRINCPT)[:, 0]
    _, img2bb, _ = load_crop(record, AugParams(1.0, 0.0, (1, 1, 1), False), GRID)
    expected_x = (img2bb[0, 0] * u + img2bb[0, 1] * cam2pixel((mesh + params.trans), FOCAL, PRINCPT)[:, 1]
                  + img2bb[0, 2]) / 4.0
    np.testing.assert_allclose(targets["fit_mesh_img"][:, 0], expected_x, atol=2e-3)
    assert meta["is_valid_fit"] == 1.0  # no fit check configured
    # orig_* targets are zero when the dataset has no native joints
    assert not targets["orig_joint_img"].any() and not meta["orig_joint_valid"].any()


def test_missing_fit_gives_dummies(smpl, body) -> None:
    record = body["record"]
    no_fit = SampleRecord(img_path=record.img_path, img_shape=(H, W), bbox=record.bbox, cam=record.cam,
                          joint_img=record.joint_img, joint_cam=record.joint_cam, joint_valid=record.joint_valid)
    _, targets, meta = _sample(no_fit, body["spec"], smpl, 1.0, 30.0, False)
    for key in ("fit_joint_img", "fit_mesh_img", "fit_joint_cam", "shape_param"):
        assert not targets[key].any(), key
    assert not meta["fit_joint_trunc"].any() and not meta["fit_mesh_trunc"].any()
    assert meta["is_valid_fit"] == 0.0
    # the root-rotation augmentation is still applied to the zero pose: axis-angle (0, 0, -30 deg)
    np.testing.assert_allclose(targets["pose_param"][:3], [0, 0, -np.deg2rad(30.0)], atol=1e-6)
    assert not targets["pose_param"][3:].any()
    assert targets["orig_joint_img"].any()


# --------------------------------------------------------------------------------------------------------------------
# fitting errors
# --------------------------------------------------------------------------------------------------------------------

def _fit_and_native(smpl, record, spec, aug=AugParams(1.0, 0.0, (1, 1, 1), False)):
    _, img2bb, _ = load_crop(record, aug, GRID)
    return fit_model(smpl, record, spec, aug, img2bb, GRID), native_joints(record, spec, aug, img2bb, GRID), img2bb


def _regressed_native(native, fit, regressor):
    """Native joints whose first 17 rows are exactly ``regressor`` · fitted mesh (data units)."""
    cam_rel = native.cam_rel.copy()
    cam_rel[:17] = regressor @ fit.mesh
    return type(native)(native.img_hm, cam_rel, native.valid, native.trunc)


def test_regressed_joints_check_is_translation_aligned_mm(smpl, body) -> None:
    record, spec = body["record"], body["spec"]
    fit, native, img2bb = _fit_and_native(smpl, record, spec)
    check = spec.fit_check
    # the fit's kinematic joints differ from the joints regressed from its mesh
    # (docs/quirks.md#q-two-body-joint-definitions)
    assert 0.0 < check.error(fit, native, record, img2bb, GRID) < 5.0
    native = _regressed_native(native, fit, body["regressor"])
    assert check.error(fit, native, record, img2bb, GRID) == pytest.approx(0.0, abs=1e-3)
    shifted = type(native)(native.img_hm, native.cam_rel + np.array([100.0, -50.0, 30.0], np.float32),
                           native.valid, native.trunc)
    assert check.error(fit, shifted, record, img2bb, GRID) == pytest.approx(0.0, abs=1e-3)
    # 30 mm along x on every joint but mean-aligned away -> move a single joint by 17 * 30 mm instead
    bumped = native.cam_rel.copy()
    bumped[5, 0] += 17 * 30.0
    moved = type(native)(native.img_hm, bumped, native.valid, native.trunc)
    expected = (17 * 30.0 * (16 / 17) + 16 * (17 * 30.0 / 17)) / 17  # |(16/17)d| once, |d/17| 16 times
    assert check.error(fit, moved, record, img2bb, GRID) == pytest.approx(expected, rel=1e-4)
    assert not check.passes(fit, moved, record, img2bb, GRID)


def test_regressed_joints_check_uses_shared_names_only(smpl, body) -> None:
    """MuCo-style: native joints converted by name; joints the native set lacks are not compared."""
    record = body["record"]
    names = tuple(smpl.joints_name)
    fit, native, img2bb = _fit_and_native(smpl, record, body["spec"])
    native = _regressed_native(native, fit, body["regressor"])
    regressor_names = names[:5] + ("NotInNative",) * 3 + names[8:17]
    check = RegressedJointsCheck(body["regressor"], names, regressor_names)
    assert len(check.rows) == 14
    bumped = native.cam_rel.copy()
    bumped[6] += 500.0  # joint 6 has no counterpart in the regressor set: ignored
    moved = type(native)(native.img_hm, bumped, native.valid, native.trunc)
    assert check.error(fit, moved, record, img2bb, GRID) == pytest.approx(0.0, abs=1e-3)


def test_projected_keypoints_check_reproduces_pelvis_bug(smpl, body) -> None:
    """MSCOCO-style: metres, hm pixels, pelvis depth = Z_lhip * Z_rhip as in the original
    (docs/quirks.md#q-coco-pelvis-depth-product)."""
    params = body["record"].params
    mesh, _ = posed_model(smpl, params.pose, params.shape)
    mesh = mesh + params.trans
    rng = np.random.default_rng(0)
    reg = np.abs(rng.normal(size=(17, 6890))) * (rng.random((17, 6890)) < 0.002)
    reg /= reg.sum(1, keepdims=True)
    reg[11], reg[12] = body["regressor"][1], body["regressor"][2]  # hips
    kps = cam2pixel(reg @ mesh, FOCAL, PRINCPT)
    kps[:, 2] = 2.0  # visible
    kps18 = append_pelvis(kps, 11, 12)  # pelvis: 2D mean of the hips, flag 4
    coco = JointSet(tuple(f"k{i}" for i in range(18)), ((1, 2),), 17)
    record = SampleRecord(img_path=body["record"].img_path, img_shape=(H, W), bbox=body["record"].bbox,
                          cam=CameraParams.make(FOCAL, PRINCPT), joint_img=np.c_[kps18[:, :2], np.zeros(18)],
                          joint_valid=(kps18[:, 2:] > 0).astype(np.float32), params=params)
    spec = PipelineSpec(joint_set=coco, is_3d=False, unit_per_m=1.0, fit_check=ProjectedKeypointsCheck(reg, 11, 12))
    fit, native, img2bb = _fit_and_native(smpl, record, spec)
    assert native.cam_rel is None and not native.img_hm[:, 2].any()
    # expected pelvis error: project the regressed pelvis with depth Z_l * Z_r
    joints3d = reg @ mesh
    pelvis = np.r_[(joints3d[11, :2] + joints3d[12, :2]) / 2, joints3d[11, 2] * joints3d[12, 2]]
    p_px = cam2pixel(pelvis[None], FOCAL, PRINCPT)[0, :2]
    p_hm = affine_points(p_px[None], img2bb)[0] / 4.0
    expected = np.linalg.norm(p_hm - native.img_hm[17, :2]) / 18.0
    assert expected > 0.1
    assert spec.fit_check.error(fit, native, record, img2bb, GRID) == pytest.approx(expected, rel=1e-3, abs=1e-4)
    # without visible hips the pelvis is not compared: error ~ 0
    invisible = record.joint_valid.copy()
    invisible[[11, 12, 17]] = 0
    record_b = SampleRecord(**{**record.__dict__, "joint_valid": invisible})
    fit_b, native_b, img2bb_b = _fit_and_native(smpl, record_b, spec)
    assert spec.fit_check.error(fit_b, native_b, record_b, img2bb_b, GRID) == pytest.approx(0.0, abs=2e-3)
    assert spec.fit_check.passes(fit_b, native_b, record_b, img2bb_b, GRID)
    # 2D-only truncation ignores z; orig_joint_cam is zero for 2D data
    _, targets, meta = _sample(record, spec, smpl)
    assert not targets["orig_joint_cam"].any() and meta["is_3D"] == 0.0


# --------------------------------------------------------------------------------------------------------------------
# MANO
# --------------------------------------------------------------------------------------------------------------------

def test_mano_targets(mano, tmp_path) -> None:
    rng = np.random.default_rng(1)
    pose = np.r_[Rotation.from_euler("x", 0.3).as_rotvec(), rng.normal(0, 0.1, 45)]
    params = ModelParams.make(pose, rng.normal(0, 0.5, 10), [0.0, 0.0, 0.0])
    mesh, joints = posed_model(mano, params.pose, params.shape)
    trans = np.array([0.01, -0.02, 0.6]) - mesh.mean(0)
    params = ModelParams.make(pose, params.shape, trans)
    path, mask = _render(tmp_path, "hand", mesh + trans, mano.face)
    ys, xs = np.nonzero(mask)
    record = SampleRecord(img_path=path, img_shape=(H, W),
                          bbox=process_bbox([xs.min(), ys.min(), np.ptp(xs), np.ptp(ys)], W, H),
                          cam=CameraParams.make(FOCAL, PRINCPT), params=params)
    spec = PipelineSpec(joint_set=None, is_3d=True, unit_per_m=1.0, allow_flip=False)
    grid = Grid((256, 256), (64, 64, 64), 0.3)
    _, targets, meta = make_train_sample(record, AugParams(1.0, 20.0, (1, 1, 1), False), mano, spec, grid)
    shapes = {"orig_joint_img": (21, 3), "fit_joint_img": (21, 3), "fit_mesh_img": (778, 3), "pose_param": (48,),
              "fit_mesh_trunc": (778, 1), "orig_joint_valid": (21, 1)}
    for key, shape in shapes.items():
        assert targets.get(key, meta.get(key)).shape == shape
    assert meta["is_valid_fit"] == 1.0 and meta["is_3D"] == 1.0
    assert not targets["orig_joint_img"].any() and not meta["orig_joint_trunc"].any()
    # camera joints in millimetres, wrist-relative, rotated by -20 degrees; layer joints (middle tip 444)
    joints = joints + trans
    expected = (joints - joints[0]) * 1000.0 @ Rotation.from_euler("z", -20, degrees=True).as_matrix().T
    np.testing.assert_allclose(targets["fit_joint_cam"], expected, atol=1e-3)
    np.testing.assert_allclose(targets["shape_param"], params.shape)  # no shape reset for hands
    # depth: S' = 0.3 m around the wrist
    np.testing.assert_allclose(targets["fit_mesh_img"][:, 2],
                               ((mesh + trans)[:, 2] - joints[0, 2]) / 0.3 * 64 + 32, atol=1e-3)
    with pytest.raises(ValueError, match="cannot be flipped"):
        make_train_sample(record, AugParams(1.0, 0.0, (1, 1, 1), True), mano, spec, grid)


def test_no_global_random_state(smpl, body) -> None:
    state = np.random.get_state()[1].copy()
    _sample(body["record"], body["spec"], smpl, 1.0, 10.0, True)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
