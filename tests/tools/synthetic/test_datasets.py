"""The synthetic mini datasets (tools.synthetic.datasets): layout, schemas, id consistency, image/GT agreement.

The ground truth is rebuilt here the way the dataset readers do it (docs/data.md#readers) — e.g. the Human36M camera
merge and translation compensation — and projected with the stored camera onto the rendered silhouette (the label
maps written with ``save_masks=True``).
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pycocotools.coco import COCO

from common.utils.preprocessing import bbox_from_keypoints, process_bbox
from common.utils.raster import render_mesh
from common.utils.transforms import cam2pixel
from tools.synthetic.datasets import DATASET_NAMES, H36M_JOINTS, MUCO_JOINTS, write_datasets

H36M_TRAIN, H36M_TEST = (1, 5, 6, 7, 8), (9, 11)


@pytest.fixture(scope="module")
def syn_model_dir(model_dir) -> Path:
    return model_dir


@pytest.fixture(scope="module")
def data_dir(synthetic_data_dir) -> Path:
    assert sorted(p.name for p in synthetic_data_dir.iterdir()) == sorted(DATASET_NAMES)
    return synthetic_data_dir


# ---------------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------------

def load_json(path: Path):
    with open(path) as f:
        return json.load(f)


def load_coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def coco_from_dict(d: dict) -> COCO:
    db = COCO()
    db.dataset = d
    with contextlib.redirect_stdout(io.StringIO()):
        db.createIndex()
    return db


def body(smpl, pose, shape, trans=None, gender="neutral"):
    to_t = lambda x, n: torch.as_tensor(np.asarray(x, dtype=np.float32).reshape(1, n))  # noqa: E731
    with torch.no_grad():
        v, j = smpl.forward(to_t(pose, 72), to_t(shape, 10), None if trans is None else to_t(trans, 3), gender)
    return v[0].double().numpy(), j[0].double().numpy()


class Masks:
    """The generator's label maps: ``labels(image_id)`` -> (H, W) uint8, ``label(image_id, ann_id)`` -> int."""

    def __init__(self, root: Path) -> None:
        self.root = root / "synthetic_masks"
        self.index = load_json(self.root / "index.json")

    def labels(self, image_id) -> np.ndarray:
        return cv2.imread(str(self.root / self.index[str(image_id)]["file"]), cv2.IMREAD_UNCHANGED)

    def label(self, image_id, ann_id) -> int:
        return self.index[str(image_id)]["labels"][str(ann_id)]


def vertex_coverage(verts_cam, focal, princpt, mask) -> float:
    """Fraction of projected vertices whose nearest pixel is on the mask (0 for vertices outside the image)."""
    px = cam2pixel(np.asarray(verts_cam, dtype=np.float64), focal, princpt)
    col, row = np.round(px[:, 0]).astype(int), np.round(px[:, 1]).astype(int)
    inside = (col >= 0) & (col < mask.shape[1]) & (row >= 0) & (row < mask.shape[0])
    hit = np.zeros(len(px), dtype=bool)
    hit[inside] = mask[row[inside], col[inside]]
    return float(hit.mean())


def fraction_in_box(mask, box) -> float:
    rows, cols = np.nonzero(mask)
    x, y, w, h = box
    tol = 0.5  # a pixel belongs to the box when its square touches it
    return float(np.mean((cols >= x - tol) & (cols <= x + w + tol) & (rows >= y - tol) & (rows <= y + h + tol)))


def check_person(verts_cam, focal, princpt, labels, label, bbox, box_fraction=1.0):
    """The mesh lands on the rendered silhouette, and the box holds the person's (visible) pixels."""
    assert labels is not None and label > 0
    assert (labels == label).sum() > 200
    assert vertex_coverage(verts_cam, focal, princpt, labels > 0) >= 0.95
    assert fraction_in_box(labels == label, bbox) >= box_fraction


def check_image(path: Path, width: int, height: int) -> None:
    img = cv2.imread(str(path))
    assert img is not None, path
    assert img.shape == (height, width, 3), (path, img.shape)


# ---------------------------------------------------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------------------------------------------------

def test_official_files_exist(data_dir):
    expected = [
        "Human36M/J_regressor_h36m_correct.npy", "Human36M/rootnet_output/bbox_root_human36m_output.json",
        "MuCo/data/MuCo-3DHP.json", "MuCo/data/smpl_param.json",
        "MSCOCO/J_regressor_coco_hip_smpl.npy", "MSCOCO/annotations/person_keypoints_train2017.json",
        "MSCOCO/annotations/person_keypoints_val2017.json", "MSCOCO/annotations/coco_smplifyx_train.json",
        "MSCOCO/rootnet_output/bbox_root_coco_output.json",
        "PW3D/data/3DPW_train.json", "PW3D/data/3DPW_validation.json", "PW3D/data/3DPW_test.json",
        "PW3D/rootnet_output/bbox_root_pw3d_output.json",
        "FreiHAND/data/freihand_train_coco.json", "FreiHAND/data/freihand_train_data.json",
        "FreiHAND/data/freihand_eval_coco.json", "FreiHAND/data/freihand_eval_data.json",
        "FreiHAND/data/evaluation_xyz.json", "FreiHAND/data/evaluation_verts.json",
        "FreiHAND/rootnet_output/bbox_root_freihand_output.json",
    ]
    for s in H36M_TRAIN + H36M_TEST:
        for kind in ("data", "camera", "joint_3d", "smpl_param"):
            expected.append(f"Human36M/annotations/Human36M_subject{s}_{kind}.json")
    missing = [p for p in expected if not (data_dir / p).is_file()]
    assert not missing
    for name in ("J_regressor_h36m_correct.npy", "J_regressor_coco_hip_smpl.npy"):
        reg = np.load(data_dir / ("Human36M" if "h36m" in name else "MSCOCO") / name)
        assert reg.shape == (17, 6890) and reg.dtype == np.float64


def test_render_mesh_api(mano):
    verts = np.asarray(mano.model_data()["v_template"], dtype=np.float64)
    verts = verts @ cv2.Rodrigues(np.array([np.pi / 2, 0.0, 0.0]))[0].T  # palm towards the camera
    verts = verts - verts.mean(0) + np.array([0.0, 0.0, 0.5])
    background = np.full((240, 320, 3), 30, dtype=np.uint8)
    image, mask = render_mesh(verts, mano.face, (700.0, 700.0), (160.0, 120.0), (240, 320), background, (200, 150, 120))
    assert image.shape == (240, 320, 3) and image.dtype == np.uint8
    assert mask.shape == (240, 320) and mask.dtype == bool and 1000 < mask.sum() < 240 * 320 // 2
    assert np.all(image[~mask] == 30) and np.all(image[mask].max(1) > 30)
    assert vertex_coverage(verts, (700.0, 700.0), (160.0, 120.0), mask) >= 0.95


# ---------------------------------------------------------------------------------------------------------------------
# Human36M
# ---------------------------------------------------------------------------------------------------------------------

def h36m_subject(data_dir: Path, s: int) -> dict:
    ann = data_dir / "Human36M" / "annotations"
    return {kind: load_json(ann / f"Human36M_subject{s}_{kind}.json")
            for kind in ("data", "camera", "joint_3d", "smpl_param")}


def test_human36m_schema_and_splits(data_dir):
    root = data_dir / "Human36M"
    for split, subjects in (("train", H36M_TRAIN), ("test", H36M_TEST)):
        merged = {}
        for s in subjects:
            for key, value in h36m_subject(data_dir, s)["data"].items():
                merged.setdefault(key, []).extend(value)
        db = coco_from_dict(merged)
        assert len(db.imgs) == len(merged["images"]) and len(db.anns) == len(merged["annotations"])  # unique ids
        kept, dropped = 0, 0
        for ann in db.anns.values():
            img = db.imgs[ann["image_id"]]
            assert {"id", "file_name", "width", "height", "subject", "action_idx", "subaction_idx", "frame_idx",
                    "cam_idx"} <= set(img)
            assert len(ann["bbox"]) == 4
            check_image(root / "images" / img["file_name"], img["width"], img["height"])
            keep = img["frame_idx"] % 5 == 0 if split == "train" else (img["frame_idx"] % 64 == 0
                                                                       and img["cam_idx"] == 4)
            kept, dropped = kept + keep, dropped + (not keep)
        assert kept >= 2 and dropped >= 1
    # the test split exercises both filters
    test_imgs = [i for s in H36M_TEST for i in h36m_subject(data_dir, s)["data"]["images"]]
    assert any(i["frame_idx"] % 64 == 0 and i["cam_idx"] != 4 for i in test_imgs)
    assert any(i["frame_idx"] % 64 != 0 and i["cam_idx"] == 4 for i in test_imgs)
    # a kept training frame without SMPL fit
    missing = 0
    for s in H36M_TRAIN:
        sub = h36m_subject(data_dir, s)
        for img in sub["data"]["images"]:
            a, sa, f = str(img["action_idx"]), str(img["subaction_idx"]), str(img["frame_idx"])
            assert np.asarray(sub["joint_3d"][a][sa][f]).shape == (17, 3)
            if f not in sub["smpl_param"].get(a, {}).get(sa, {}):
                missing += img["frame_idx"] % 5 == 0
    assert missing == 1
    for s in H36M_TRAIN + H36M_TEST:
        cams = h36m_subject(data_dir, s)["camera"]
        assert set(cams) == {"1", "2", "3", "4"}
        for cam in cams.values():
            R = np.asarray(cam["R"])
            assert R.shape == (3, 3) and np.allclose(R @ R.T, np.eye(3), atol=1e-6)
            assert len(cam["t"]) == 3 and len(cam["f"]) == 2 and len(cam["c"]) == 2


def test_human36m_gt_matches_images(data_dir, smpl):
    """The reader's camera merge + translation compensation lands the fitted mesh on the silhouette, and the native
    joints equal J_regressor_h36m applied to that mesh (fitting error ~ 0)."""
    root = data_dir / "Human36M"
    masks = Masks(root)
    regressor = np.load(root / "J_regressor_h36m_correct.npy")
    checked = 0
    for s in H36M_TRAIN + H36M_TEST:
        sub = h36m_subject(data_dir, s)
        for img, ann in zip(sub["data"]["images"], sub["data"]["annotations"]):
            assert ann["image_id"] == img["id"]
            cam = sub["camera"][str(img["cam_idx"])]
            R, t = np.asarray(cam["R"]), np.asarray(cam["t"])
            a, sa, f = str(img["action_idx"]), str(img["subaction_idx"]), str(img["frame_idx"])
            param = sub["smpl_param"].get(a, {}).get(sa, {}).get(f)
            if param is None:
                continue
            pose = np.asarray(param["pose"], dtype=np.float64)
            pose[:3] = cv2.Rodrigues(R @ cv2.Rodrigues(pose[:3])[0])[0][:, 0]
            verts, joints = body(smpl, pose, param["shape"])
            shift = R @ np.asarray(param["trans"]) + t / 1000 - joints[0] + R @ joints[0]
            verts = verts + shift
            labels = masks.labels(img["id"])
            check_person(verts, cam["f"], cam["c"], labels, masks.label(img["id"], ann["id"]), ann["bbox"])
            keep = (img["frame_idx"] % 5 == 0) if s in H36M_TRAIN else (img["frame_idx"] % 64 == 0
                                                                       and img["cam_idx"] == 4)
            if keep:
                joint_cam = (R @ np.asarray(sub["joint_3d"][a][sa][f]).T).T + t
                np.testing.assert_allclose(joint_cam, regressor @ (verts * 1000), atol=0.05)  # mm
            checked += 1
    assert checked >= 8


def test_human36m_rootnet(data_dir):
    root = data_dir / "Human36M"
    rootnet = {str(e["image_id"]): e for e in load_json(root / "rootnet_output" / "bbox_root_human36m_output.json")}
    n = 0
    for s in H36M_TEST:
        sub = h36m_subject(data_dir, s)
        for img, ann in zip(sub["data"]["images"], sub["data"]["annotations"]):
            if not (img["frame_idx"] % 64 == 0 and img["cam_idx"] == 4):
                continue
            entry = rootnet[str(img["id"])]
            np.testing.assert_allclose(entry["bbox"], process_bbox(ann["bbox"], img["width"], img["height"]),
                                       atol=1e-3)
            cam = sub["camera"][str(img["cam_idx"])]
            joint_world = np.asarray(sub["joint_3d"][str(img["action_idx"])][str(img["subaction_idx"])][
                str(img["frame_idx"])])
            pelvis = np.asarray(cam["R"]) @ joint_world[0] + np.asarray(cam["t"])
            np.testing.assert_allclose(entry["root_cam"], pelvis, atol=1e-2)  # mm
            n += 1
    assert n >= 4
    all_ids = {i["id"] for s in H36M_TRAIN + H36M_TEST for i in h36m_subject(data_dir, s)["data"]["images"]}
    assert {int(k) for k in rootnet} <= all_ids


# ---------------------------------------------------------------------------------------------------------------------
# MuCo
# ---------------------------------------------------------------------------------------------------------------------

def test_muco(data_dir, smpl):
    root = data_dir / "MuCo"
    db = load_coco(root / "data" / "MuCo-3DHP.json")
    params = load_json(root / "data" / "smpl_param.json")
    masks = Masks(root)
    regressor = np.load(data_dir / "Human36M" / "J_regressor_h36m_correct.npy")
    assert set(params) < {str(a) for a in db.anns}  # keyed by annotation id, some persons without a fit
    multi = 0
    pelvis = MUCO_JOINTS.index("Pelvis")
    common = [n for n in H36M_JOINTS if n in MUCO_JOINTS]
    assert len(common) == 14
    for image_id, img in db.imgs.items():
        assert img["file_name"].startswith(("augmented_set/", "unaugmented_set/"))
        check_image(root / "data" / img["file_name"], img["width"], img["height"])
        anns = db.loadAnns(db.getAnnIds(imgIds=[image_id]))
        depths = [a["keypoints_cam"][pelvis][2] for a in anns]
        if len(anns) > 1:
            multi += 1
            assert min(depths) < sorted(depths)[1] - 500  # clearly different depths (mm)
        labels = masks.labels(image_id)
        for ann in anns:
            kp_cam = np.asarray(ann["keypoints_cam"])
            assert kp_cam.shape == (21, 3) and np.asarray(ann["keypoints_img"]).shape == (21, 2)
            np.testing.assert_allclose(cam2pixel(kp_cam, img["f"], img["c"])[:, :2], ann["keypoints_img"], atol=1e-3)
            param = params.get(str(ann["id"]))
            if param is None:
                continue
            verts, _ = body(smpl, param["pose"], param["shape"], param["trans"])
            check_person(verts, img["f"], img["c"], labels, masks.label(image_id, ann["id"]), ann["bbox"])
            # fitting error on the 14 joints shared with the H36M set (mm, threshold 25 in the reader)
            native = kp_cam[[MUCO_JOINTS.index(n) for n in common]] - kp_cam[pelvis]
            fitted = (regressor @ (verts * 1000))[[H36M_JOINTS.index(n) for n in common]]
            fitted = fitted - fitted.mean(0) + native.mean(0)
            assert np.linalg.norm(native - fitted, axis=1).mean() < 0.05
    assert multi >= 1 and len(params) >= 3


# ---------------------------------------------------------------------------------------------------------------------
# MSCOCO
# ---------------------------------------------------------------------------------------------------------------------

def test_mscoco(data_dir, smpl):
    root = data_dir / "MSCOCO"
    masks = Masks(root)
    fits = load_json(root / "annotations" / "coco_smplifyx_train.json")
    train = load_coco(root / "annotations" / "person_keypoints_train2017.json")
    val = load_coco(root / "annotations" / "person_keypoints_val2017.json")
    assert train.loadCats(1)[0]["name"] == "person" and len(train.loadCats(1)[0]["keypoints"]) == 17
    assert not set(train.anns) & set(val.anns) and not set(train.imgs) & set(val.imgs)
    assert set(fits) < {str(a) for a in train.anns}
    skipped = {"crowd": 0, "empty": 0}
    for split, db in (("train", train), ("val", val)):
        for ann in db.anns.values():
            img = db.imgs[ann["image_id"]]
            check_image(root / "images" / f"{split}2017" / img["file_name"], img["width"], img["height"])
            kps = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)
            assert set(np.unique(kps[:, 2])) <= {0, 1, 2} and ann["num_keypoints"] == int((kps[:, 2] > 0).sum())
            assert ann["category_id"] == 1 and len(ann["bbox"]) == 4
            if ann["iscrowd"] or ann["num_keypoints"] == 0:
                skipped["crowd" if ann["iscrowd"] else "empty"] += 1
                continue
            labels = masks.labels(img["id"])
            label = masks.label(img["id"], ann["id"])
            assert fraction_in_box(labels == label, ann["bbox"]) == 1.0
            assert ann["area"] == pytest.approx((labels == label).sum())
            vis = kps[kps[:, 2] > 0]
            on = labels[np.round(vis[:, 1]).astype(int), np.round(vis[:, 0]).astype(int)] > 0
            assert on.mean() >= 0.8
            fit = fits.get(str(ann["id"]))
            if fit is not None:
                p, cam = fit["smpl_param"], fit["cam_param"]
                verts, _ = body(smpl, p["pose"], p["shape"], p["trans"])
                check_person(verts, cam["focal"], cam["princpt"], labels, label, ann["bbox"])
    assert skipped["crowd"] >= 1 and skipped["empty"] >= 1
    assert len(fits) >= 2 and len(fits) < sum(1 for a in train.anns.values() if a["num_keypoints"] > 0)
    rootnet = load_json(root / "rootnet_output" / "bbox_root_coco_output.json")
    assert len(rootnet) >= 3 and all(e["image_id"] in val.imgs for e in rootnet)
    assert len({e["image_id"] for e in rootnet}) < len(rootnet)  # several persons in one image
    for e in rootnet:
        assert len(e["bbox"]) == 4 and len(e["root_cam"]) == 3 and 1000 < e["root_cam"][2] < 50000  # mm


# ---------------------------------------------------------------------------------------------------------------------
# PW3D
# ---------------------------------------------------------------------------------------------------------------------

def test_pw3d(data_dir, smpl):
    root = data_dir / "PW3D"
    masks = Masks(root)
    next_img, next_ann = 0, 0
    test_ann_ids = set()
    for split in ("train", "validation", "test"):
        db = load_coco(root / "data" / f"3DPW_{split}.json")
        assert sorted(db.imgs) == list(range(next_img, next_img + len(db.imgs)))  # global ids, in split order
        assert sorted(db.anns) == list(range(next_ann, next_ann + len(db.anns)))
        next_img, next_ann = next_img + len(db.imgs), next_ann + len(db.anns)
        for ann in db.anns.values():
            img = db.imgs[ann["image_id"]]
            assert img["file_name"] == f"image_{img['frame_idx']:05d}.jpg"
            check_image(root / "data" / "imageFiles" / img["sequence"] / img["file_name"], img["width"],
                        img["height"])
            p = ann["smpl_param"]
            assert p["gender"] in ("male", "female") and len(p["pose"]) == 72 and len(p["shape"]) == 10
            assert np.asarray(ann["openpose_result"]).shape == (18, 3)
            cam = img["cam_param"]
            verts, joints = body(smpl, p["pose"], p["shape"], p["trans"], p["gender"])
            np.testing.assert_allclose(ann["joint_cam"], joints, atol=1e-5)
            np.testing.assert_allclose(ann["fitted_joint_cam"], joints, atol=1e-5)
            np.testing.assert_allclose(ann["joint_img"], cam2pixel(joints, cam["focal"], cam["princpt"])[:, :2],
                                       atol=1e-3)
            np.testing.assert_allclose(ann["bbox"], bbox_from_keypoints(np.asarray(ann["joint_img"]),
                                                                        np.ones(24), 1.2), atol=1e-3)
            labels = masks.labels(img["id"])
            label = masks.label(img["id"], ann["id"])
            # keypoint boxes (x1.2, like the conversion tool) hold nearly all of the silhouette, processed boxes all
            check_person(verts, cam["focal"], cam["princpt"], labels, label, ann["bbox"], box_fraction=0.9)
            assert fraction_in_box(labels == label, process_bbox(ann["bbox"], img["width"], img["height"])) == 1.0
            if split == "test":
                test_ann_ids.add(ann["id"])
    rootnet = load_json(root / "rootnet_output" / "bbox_root_pw3d_output.json")
    assert {e["ann_id"] for e in rootnet} == test_ann_ids and min(test_ann_ids) > 0
    test = load_coco(root / "data" / "3DPW_test.json")
    for e in rootnet:
        p = test.anns[e["ann_id"]]["smpl_param"]
        _, joints = body(smpl, p["pose"], p["shape"], p["trans"], p["gender"])
        np.testing.assert_allclose(e["root_cam"], joints[0], atol=1e-5)  # metres
    assert len({a["smpl_param"]["gender"] for a in test.anns.values()}) == 2


# ---------------------------------------------------------------------------------------------------------------------
# FreiHAND
# ---------------------------------------------------------------------------------------------------------------------

def hand(mano, pose, shape, trans):
    with torch.no_grad():
        v, j = mano.forward(torch.as_tensor(np.asarray(pose, dtype=np.float32).reshape(1, 48)),
                            torch.as_tensor(np.asarray(shape, dtype=np.float32).reshape(1, 10)),
                            torch.as_tensor(np.asarray(trans, dtype=np.float32).reshape(1, 3)))
    return v[0].double().numpy() / 1000, j[0].double().numpy() / 1000


def test_freihand(data_dir, mano):
    root = data_dir / "FreiHAND"
    data = root / "data"
    masks = Masks(root)
    train = load_coco(data / "freihand_train_coco.json")
    train_db = load_json(data / "freihand_train_data.json")
    for ann in train.anns.values():
        img = train.imgs[ann["image_id"]]
        assert img["file_name"] == f"training/rgb/{img['db_idx']:08d}.jpg"
        check_image(data / img["file_name"], img["width"], img["height"])
        entry = train_db[str(img["db_idx"])]
        m, cam = entry["mano_param"], entry["cam_param"]
        assert len(m["pose"]) == 48 and len(m["shape"]) == 10 and len(m["trans"]) == 3
        verts, joints = hand(mano, m["pose"], m["shape"], m["trans"])
        np.testing.assert_allclose(entry["joint_3d"], joints, atol=1e-5)
        check_person(verts, cam["focal"], cam["princpt"], masks.labels(img["id"]), masks.label(img["id"], ann["id"]),
                     ann["bbox"])
    evaluation = load_coco(data / "freihand_eval_coco.json")
    eval_db = load_json(data / "freihand_eval_data.json")
    xyz = np.asarray(load_json(data / "evaluation_xyz.json"))
    verts_gt = np.asarray(load_json(data / "evaluation_verts.json"))
    eval_anns = evaluation.dataset["annotations"]
    assert xyz.shape == (len(eval_anns), 21, 3) and verts_gt.shape == (len(eval_anns), 778, 3)
    rootnet = {e["image_id"]: e for e in load_json(root / "rootnet_output" / "bbox_root_freihand_output.json")}
    assert set(rootnet) == set(evaluation.imgs)
    for k, ann in enumerate(eval_anns):  # evaluation GT in annotation order
        img = evaluation.imgs[ann["image_id"]]
        assert img["file_name"] == f"evaluation/rgb/{img['db_idx']:08d}.jpg"
        entry = eval_db[str(img["db_idx"])]
        assert set(entry) == {"cam_param", "scale"}
        cam = entry["cam_param"]
        check_person(verts_gt[k], cam["focal"], cam["princpt"], masks.labels(img["id"]),
                     masks.label(img["id"], ann["id"]), ann["bbox"])
        np.testing.assert_allclose(rootnet[img["id"]]["root_cam"], xyz[k, 0], atol=1e-6)
        assert entry["scale"] == pytest.approx(np.linalg.norm(xyz[k, 10] - xyz[k, 9]), abs=1e-5)


# ---------------------------------------------------------------------------------------------------------------------
# shape reset and determinism
# ---------------------------------------------------------------------------------------------------------------------

def test_some_shapes_exceed_three(data_dir):
    shapes = []
    for s in H36M_TRAIN:
        for a in h36m_subject(data_dir, s)["smpl_param"].values():
            for sa in a.values():
                shapes += [p["shape"] for p in sa.values()]
    shapes += [p["shape"] for p in load_json(data_dir / "MuCo" / "data" / "smpl_param.json").values()]
    big = [np.abs(np.asarray(s)).max() > 3 for s in shapes]
    assert any(big) and not all(big)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic(data_dir, syn_model_dir, tmp_path):
    """Same seed -> byte-identical files; a dataset does not depend on which others are written with it."""
    names = ["MuCo", "MSCOCO", "FreiHAND"]
    again = tmp_path / "again"
    write_datasets(again, syn_model_dir, names=names, seed=0, size="test", save_masks=True)
    for name in names:
        first, second = _tree_bytes(data_dir / name), _tree_bytes(again / name)
        assert first.keys() == second.keys()
        assert not [k for k in first if first[k] != second[k]]
    other = tmp_path / "other"
    write_datasets(other, syn_model_dir, names=["FreiHAND"], seed=1)
    assert (other / "FreiHAND" / "data" / "freihand_train_data.json").read_bytes() != \
        (data_dir / "FreiHAND" / "data" / "freihand_train_data.json").read_bytes()


def test_rejects_unknown_arguments(tmp_path, syn_model_dir):
    with pytest.raises(ValueError):
        write_datasets(tmp_path, syn_model_dir, names=["Human3.6M"])
    with pytest.raises(ValueError):
        write_datasets(tmp_path, syn_model_dir, size="huge")


def test_files_do_not_depend_on_the_callers_thread_count(syn_model_dir, tmp_path):
    torch.set_num_threads(2)
    write_datasets(tmp_path / "two", syn_model_dir, names=["MuCo"], seed=0)
    torch.set_num_threads(1)
    try:
        write_datasets(tmp_path / "one", syn_model_dir, names=["MuCo"], seed=0)
    finally:
        torch.set_num_threads(2)
    assert _tree_bytes(tmp_path / "two" / "MuCo") == _tree_bytes(tmp_path / "one" / "MuCo")
    assert torch.get_num_threads() == 2  # restored
