"""Tests for the dataset readers, the registry and MultipleDatasets (docs/data.md#readers, docs/data.md#mixer,
docs/evaluation.md#test-driver).

Every reader runs on the synthetic mini datasets of ``tools.synthetic.datasets`` (official layouts and schemas,
images rendered from the annotations, label maps saved beside them), in every split it supports.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from common.utils.transforms import affine_points, cam2pixel, voxelize, world2cam
from data.base import EmptyDatasetError, EvalReport
from data.datalist import Datalist
from data.fitting import fit_model, posed_model
from data.loader import worker_init_fn
from data.mixer import MultipleDatasets, build_train_dataset
from data.pipeline import load_crop
from data.records import TRAIN_META_KEYS, TRAIN_TARGET_KEYS, ModelParams
from data.registry import DATASETS, build_dataset
from main.config import make_config

BODY_TRAIN = ("Human36M", "MuCo", "MSCOCO")
H36M_TRAIN_SUBJECTS, H36M_TEST_SUBJECTS = (1, 5, 6, 7, 8), (9, 11)


@pytest.fixture(scope="module")
def synth(model_dir, synthetic_data_dir, smpl, mano) -> dict:
    return {"models": model_dir, "data": synthetic_data_dir, "smpl": smpl, "mano": mano}


def body_cfg(synth: dict, data_dir: Path | None = None, **kw):
    return make_config(data_dir=data_dir or synth["data"], human_model_dir=synth["models"], **kw)


def hand_cfg(synth: dict, data_dir: Path | None = None, **kw):
    return make_config(data_dir=data_dir or synth["data"], human_model_dir=synth["models"], trainset_3d=["FreiHAND"],
                       trainset_2d=[], testset="FreiHAND", **kw)


def build(synth: dict, name: str, split: str, cfg=None, **kw):
    """The dataset; a training split starts at epoch 0."""
    hand = name == "FreiHAND"
    cfg = cfg or (hand_cfg(synth) if hand else body_cfg(synth))
    ds = build_dataset(name, cfg, split, synth["mano"] if hand else synth["smpl"], **kw)
    if ds.is_train:
        ds.set_epoch(0)
    return ds


def read_json(path: Path):
    with open(path) as f:
        return json.load(f)


def copy_dataset(synth: dict, tmp_path: Path, *names: str) -> Path:
    """A private copy of some dataset folders (for tests that damage files)."""
    data = tmp_path / "data"
    for name in names:
        shutil.copytree(synth["data"] / name, data / name)
    return data


# --------------------------------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------------------------------

def test_registry_names(synth) -> None:
    for name in ("Human36M", "MuCo", "MSCOCO", "PW3D", "FreiHAND"):
        ds = build(synth, name, "train" if name == "MuCo" else "test")
        assert type(ds).__name__ == name and DATASETS[name] is type(ds)
    with pytest.raises(KeyError, match="unknown dataset 'Foo'"):
        build_dataset("Foo", body_cfg(synth), "train", synth["smpl"])


def test_unknown_split_errors(synth) -> None:
    with pytest.raises(ValueError, match=r"MuCo: unknown split 'test'.*\['train'\]"):
        build(synth, "MuCo", "test")
    with pytest.raises(ValueError, match=r"PW3D: unknown split 'train'"):
        build(synth, "PW3D", "train")
    with pytest.raises(ValueError, match=r"Human36M: unknown split 'val'"):
        build(synth, "Human36M", "val")


# --------------------------------------------------------------------------------------------------------------------
# training samples: dictionaries, value ranges, split filters
# --------------------------------------------------------------------------------------------------------------------

BODY_SHAPES = {"orig_joint_img": (29, 3), "fit_joint_img": (29, 3), "fit_mesh_img": (6890, 3),
               "orig_joint_cam": (29, 3), "fit_joint_cam": (29, 3), "pose_param": (72,), "shape_param": (10,),
               "orig_joint_valid": (29, 1), "orig_joint_trunc": (29, 1), "fit_joint_trunc": (29, 1),
               "fit_mesh_trunc": (6890, 1)}
HAND_SHAPES = {"orig_joint_img": (21, 3), "fit_joint_img": (21, 3), "fit_mesh_img": (778, 3),
               "orig_joint_cam": (21, 3), "fit_joint_cam": (21, 3), "pose_param": (48,), "shape_param": (10,),
               "orig_joint_valid": (21, 1), "orig_joint_trunc": (21, 1), "fit_joint_trunc": (21, 1),
               "fit_mesh_trunc": (778, 1)}


def check_train_sample(sample, shapes: dict, is_3d: float) -> None:
    inputs, targets, meta = sample
    assert list(inputs) == ["img"] and tuple(inputs["img"].shape) == (3, 256, 256)
    assert str(inputs["img"].dtype) == "torch.float32"
    assert 0.0 <= float(inputs["img"].min()) and float(inputs["img"].max()) <= 1.0
    assert tuple(targets) == TRAIN_TARGET_KEYS and tuple(meta) == TRAIN_META_KEYS
    for key, shape in shapes.items():
        value = targets[key] if key in targets else meta[key]
        assert value.shape == shape and value.dtype == np.float32, key
        assert np.all(np.isfinite(value)), key
    for key in ("orig_joint_valid", "orig_joint_trunc", "fit_joint_trunc", "fit_mesh_trunc"):
        assert set(np.unique(meta[key])) <= {0.0, 1.0}, key
    assert np.all(meta["orig_joint_trunc"] <= meta["orig_joint_valid"])
    assert type(meta["is_valid_fit"]) is float and meta["is_valid_fit"] in (0.0, 1.0)
    assert type(meta["is_3D"]) is float and meta["is_3D"] == is_3d
    if meta["fit_mesh_trunc"].any():  # fitted mesh mostly inside the grid, camera joints in plausible units
        assert meta["fit_mesh_trunc"].mean() > 0.5
        assert np.abs(targets["fit_joint_cam"]).max() < (300.0 if shapes is HAND_SHAPES else 2.0)
    else:
        assert not targets["fit_mesh_img"].any() and meta["is_valid_fit"] == 0.0


def test_human36m_train(synth) -> None:
    ds = build(synth, "Human36M", "train")
    images = [img for s in H36M_TRAIN_SUBJECTS
              for img in read_json(synth["data"] / f"Human36M/annotations/Human36M_subject{s}_data.json")["images"]]
    expected = [img["id"] for img in images if img["frame_idx"] % 5 == 0]
    assert [r.ids["image_id"] for r in ds.datalist] == expected and len(ds) == len(expected) > 0
    assert ds.vertex_num == 6890 and ds.joint_num == 29
    valid = []
    for i in range(len(ds)):
        sample = ds[i]
        check_train_sample(sample, BODY_SHAPES, 1.0)
        _, targets, meta = sample
        np.testing.assert_array_equal(meta["orig_joint_valid"][[9, 10, 11, 13, 14, 22, 23, 25, 26, 27, 28], 0], 0)
        assert meta["orig_joint_valid"].sum() == 16  # Head_top has no SMPL counterpart
        assert 0.1 < np.abs(targets["orig_joint_cam"]).max() < 2.0  # metres
        valid.append(meta["is_valid_fit"])
    fits = [r.params is not None for r in ds.datalist]
    assert not all(fits) and any(fits)
    assert valid == [float(f) for f in fits]  # exact synthetic fits pass the 25 mm test, missing ones give 0


def test_muco_train_closest_person(synth) -> None:
    ds = build(synth, "MuCo", "train")
    db = read_json(synth["data"] / "MuCo/data/MuCo-3DHP.json")
    for record in ds.datalist:
        anns = [a for a in db["annotations"] if a["image_id"] == record.ids["image_id"]]
        closest = min(anns, key=lambda a: a["keypoints_cam"][14][2])
        assert record.ids["ann_id"] == closest["id"]
        np.testing.assert_allclose(record.joint_cam, closest["keypoints_cam"], rtol=1e-6)
    assert len(ds) == len({a["image_id"] for a in db["annotations"]})
    for i in range(len(ds)):
        sample = ds[i]
        check_train_sample(sample, BODY_SHAPES, 1.0)
        assert sample[2]["orig_joint_valid"].sum() == 19  # Head_top and Thorax drop
        assert sample[2]["is_valid_fit"] == float(ds.datalist[i].params is not None)


def test_mscoco_train(synth) -> None:
    ds = build(synth, "MSCOCO", "train")
    anns = read_json(synth["data"] / "MSCOCO/annotations/person_keypoints_train2017.json")["annotations"]
    kept = [a["id"] for a in anns if not a["iscrowd"] and a["num_keypoints"] > 0]
    assert [r.ids["ann_id"] for r in ds.datalist] == kept
    assert all("train2017" in str(r.img_path) for r in ds.datalist)
    for i in range(len(ds)):
        sample = ds[i]
        check_train_sample(sample, BODY_SHAPES, 0.0)
        _, targets, meta = sample
        assert not targets["orig_joint_cam"].any() and not targets["orig_joint_img"][:, 2].any()
        record = ds.datalist[i]
        assert meta["orig_joint_valid"].sum() == record.joint_valid.sum()  # all 18 COCO joints map to SMPL
        if record.params is None:
            assert meta["is_valid_fit"] == 0.0


def test_freihand_train(synth) -> None:
    ds = build(synth, "FreiHAND", "train")
    assert ds.vertex_num == 778 and ds.joint_num == 21 and len(ds) == len(
        read_json(synth["data"] / "FreiHAND/data/freihand_train_coco.json")["annotations"])
    assert not ds.spec.allow_flip
    for i in range(len(ds)):
        sample = ds[i]
        check_train_sample(sample, HAND_SHAPES, 1.0)
        assert sample[2]["is_valid_fit"] == 1.0 and not sample[1]["orig_joint_img"].any()
        assert not ds.aug_params(i).do_flip


# --------------------------------------------------------------------------------------------------------------------
# geometry: fitted targets land on the rendered person
# --------------------------------------------------------------------------------------------------------------------

def _label_map(synth: dict, name: str, image_id: int) -> np.ndarray:
    index = read_json(synth["data"] / name / "synthetic_masks" / "index.json")
    return cv2.imread(str(synth["data"] / name / "synthetic_masks" / index[str(image_id)]["file"]),
                      cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("name", BODY_TRAIN + ("FreiHAND",))
def test_fit_mesh_on_rendered_silhouette(synth, name) -> None:
    """fit_mesh_img -> crop px -> bb2img -> (un-flip) original pixels lies on the person's rendered pixels."""
    ds = build(synth, name, "train")
    checked = 0
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        for i, record in enumerate(ds.datalist):
            if record.params is None:
                continue
            _, targets, meta = ds[i]
            aug = ds.aug_params(i)
            _, _, bb2img = load_crop(record, aug, ds.grid)
            inside = meta["fit_mesh_trunc"][:, 0] > 0
            uv = affine_points(targets["fit_mesh_img"][inside, :2] * 4.0, bb2img)
            if aug.do_flip:
                uv[:, 0] = record.img_width - 1 - uv[:, 0]
            labels = _label_map(synth, name, record.ids["image_id"]) > 0
            labels = cv2.dilate(labels.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            h, w = labels.shape
            cols = np.clip(np.round(uv[:, 0]).astype(int), 0, w - 1)
            rows = np.clip(np.round(uv[:, 1]).astype(int), 0, h - 1)
            assert labels[rows, cols].mean() > 0.97, (name, i, aug)
            if not aug.do_flip:  # exact: the GT projection of the annotated parameters
                mesh = _gt_mesh_px(ds, record)
                np.testing.assert_allclose(uv, mesh[inside], atol=0.05)
            checked += 1
    assert checked >= 4


def _gt_mesh_px(ds, record) -> np.ndarray:
    """Projection of the mesh described by the record's parameters (independent of the pipeline's steps)."""
    params = record.params
    mesh, _ = posed_model(ds.human_model, params.pose, params.shape)
    if ds.name == "Human36M":  # world frame -> camera (mm)
        mesh_cam = world2cam((mesh + params.trans) * 1000.0, record.cam.R, record.cam.t)
    else:
        mesh_cam = mesh + params.trans
    return cam2pixel(mesh_cam, record.cam.focal, record.cam.princpt)[:, :2]


# --------------------------------------------------------------------------------------------------------------------
# test splits
# --------------------------------------------------------------------------------------------------------------------

def check_test_sample(sample, index: int, extra_targets: tuple[str, ...] = ()) -> None:
    inputs, targets, meta = sample
    assert list(inputs) == ["img"] and tuple(inputs["img"].shape) == (3, 256, 256)
    assert 0.0 <= float(inputs["img"].min()) and float(inputs["img"].max()) <= 1.0
    assert tuple(targets) == extra_targets
    assert list(meta) == ["bb2img_trans", "sample_idx"] and meta["bb2img_trans"].shape == (2, 3)
    assert meta["bb2img_trans"].dtype == np.float32
    assert type(meta["sample_idx"]) is int and meta["sample_idx"] == index


def test_human36m_test_split_and_order(synth, capsys) -> None:
    ds = build(synth, "Human36M", "test")
    out = capsys.readouterr().out
    assert "creating index...\nindex created!" in out and "loading annotations" not in out
    rootnet_path = synth["data"] / "Human36M/rootnet_output/bbox_root_human36m_output.json"
    assert f"Get bounding box and root from {rootnet_path}" in out
    images = [img for s in H36M_TEST_SUBJECTS
              for img in read_json(synth["data"] / f"Human36M/annotations/Human36M_subject{s}_data.json")["images"]]
    expected = [img["id"] for img in images if img["frame_idx"] % 64 == 0 and img["cam_idx"] == 4]
    assert [r.ids["image_id"] for r in ds.datalist] == expected  # subject 9 then 11, annotation order
    rootnet = {e["image_id"]: e for e in read_json(
        synth["data"] / "Human36M/rootnet_output/bbox_root_human36m_output.json")}
    for i, record in enumerate(ds.datalist):
        check_test_sample(ds[i], i)
        np.testing.assert_allclose(record.bbox, rootnet[record.ids["image_id"]]["bbox"])
        assert record.root_depth == pytest.approx(rootnet[record.ids["image_id"]]["root_cam"][2])
    gt = build(synth, "Human36M", "test", body_cfg(synth, use_gt_info=True))
    assert "Get bounding box and root from groundtruth" in capsys.readouterr().out
    for record in gt.datalist:
        assert record.root_depth == pytest.approx(float(record.joint_cam[0, 2]))


def _h36m_fit_outs(synth, ds) -> list[dict]:
    """Network-like outputs built from the SMPL fit targets of the test records (identity crop)."""
    images = {img["id"]: img for s in H36M_TEST_SUBJECTS for img in
              read_json(synth["data"] / f"Human36M/annotations/Human36M_subject{s}_data.json")["images"]}
    spec = ds.pipeline_spec()  # the training pipeline's pieces (world-frame params) applied to test records
    outs = []
    for record in ds.datalist:
        img = images[record.ids["image_id"]]
        fits = read_json(synth["data"] / f"Human36M/annotations/Human36M_subject{img['subject']}_smpl_param.json")
        smpl = fits[str(img["action_idx"])][str(img["subaction_idx"])][str(img["frame_idx"])]
        record_fit = type(record)(**{**record.__dict__,
                                     "params": ModelParams.make(smpl["pose"], smpl["shape"], smpl["trans"])})
        aug = ds.aug_params(0)
        _, img2bb, bb2img = load_crop(record_fit, aug, ds.grid)
        fit = fit_model(ds.human_model, record_fit, spec, aug, img2bb, ds.grid)
        outs.append({"mesh_coord_img": fit.mesh_img, "bb2img_trans": bb2img, "mesh_coord_cam": fit.mesh / 1000.0,
                     "root_depth": float(fit.joints[0, 2])})
    return outs


def test_human36m_gt_as_prediction_gives_zero_error(synth, capsys) -> None:
    ds = build(synth, "Human36M", "test")
    outs = _h36m_fit_outs(synth, ds)
    # with the fitted root depth the back-projection is exact
    rootnet_datalist = ds.datalist
    ds.datalist = Datalist.from_records(dataclasses.replace(record, root_depth=out["root_depth"])
                                        for record, out in zip(rootnet_datalist, outs))
    result = {}
    for start in range(0, len(outs), 3):  # batches of 3, cur_sample_idx as the tester passes it
        batch = [{k: v for k, v in o.items() if k != "root_depth"} for o in outs[start:start + 3]]
        for k, v in ds.evaluate(batch, start).items():
            result.setdefault(k, []).extend(v)
    assert len(result["mpjpe_lixel"]) == len(ds)
    for key in ("mpjpe_lixel", "pa_mpjpe_lixel", "mpjpe_param", "pa_mpjpe_param"):
        assert max(result[key]) < 0.05, key  # millimetres
    lines = ds.report(result, Path("unused")).lines
    assert lines == ["MPJPE from lixel mesh: 0.00 mm", "PA MPJPE from lixel mesh: 0.00 mm",
                     "MPJPE from param mesh: 0.00 mm", "PA MPJPE from param mesh: 0.00 mm"]
    # with RootNet's root (the regressed pelvis, not the SMPL root) only perspective changes: small error
    ds.datalist = rootnet_datalist
    lixel_only = [{k: o[k] for k in ("mesh_coord_img", "bb2img_trans")} for o in outs]
    result = ds.evaluate(lixel_only, 0)
    assert set(result) == {"mpjpe_lixel", "pa_mpjpe_lixel"}
    assert max(result["mpjpe_lixel"]) < 5.0 and max(result["pa_mpjpe_lixel"]) < 0.5


@pytest.mark.parametrize("use_gt_info", [False, True])
def test_pw3d_test_and_gt_as_prediction(synth, capsys, use_gt_info) -> None:
    ds = build(synth, "PW3D", "test", body_cfg(synth, use_gt_info=use_gt_info))
    out = capsys.readouterr().out
    assert ("groundtruth" in out) == use_gt_info
    db = read_json(synth["data"] / "PW3D/data/3DPW_test.json")
    images = {img["id"]: img for img in db["images"]}
    assert [r.ids["ann_id"] for r in ds.datalist] == [a["id"] for a in db["annotations"]]
    outs = []
    for i, record in enumerate(ds.datalist):
        sample = ds[i]
        check_test_sample(sample, i, ("fit_mesh_coord_cam",))
        ann = db["annotations"][i]
        img = images[ann["image_id"]]
        assert record.img_path == synth["data"] / "PW3D/data/imageFiles" / img["sequence"] / img["file_name"]
        gt_mesh = sample[1]["fit_mesh_coord_cam"]
        # the gendered layer with translation (not the neutral one)
        np.testing.assert_allclose(gt_mesh, _smpl_mesh(ds, ann["smpl_param"], ann["smpl_param"]["gender"]),
                                   atol=1e-6)
        assert np.abs(gt_mesh - _smpl_mesh(ds, ann["smpl_param"], "neutral")).max() > 1e-3
        root = record.root_depth if record.root_depth is not None else float((ds.regressor @ gt_mesh)[0, 2])
        mesh_img = voxelize(cam2pixel(gt_mesh, record.cam.focal, record.cam.princpt), root,
                            _img2bb(ds, record), 2.0)
        outs.append({"mesh_coord_img": mesh_img, "bb2img_trans": sample[2]["bb2img_trans"],
                     "mesh_coord_cam": gt_mesh, "mesh_coord_cam_target": gt_mesh})
    result = ds.evaluate(outs, 0)
    for key in ("mpjpe_lixel", "pa_mpjpe_lixel", "mpjpe_param", "pa_mpjpe_param", "mpvpe_lixel", "mpvpe_param"):
        assert len(result[key]) == len(ds) and max(result[key]) < 0.05, key
    lines = ds.report(result, Path("unused")).lines
    assert lines == ["MPJPE from lixel mesh: 0.00 mm", "PA MPJPE from lixel mesh: 0.00 mm",
                          "MPJPE from param mesh: 0.00 mm", "PA MPJPE from param mesh: 0.00 mm",
                          "MPVPE from lixel mesh: 0.00 mm", "MPVPE from param mesh: 0.00 mm"]


def _smpl_mesh(ds, p: dict, gender: str) -> np.ndarray:
    """SMPL(pose, shape, trans) of layer ``gender``, metres (computed here with the layer directly)."""
    with torch.no_grad():
        verts, _ = ds.human_model.forward(torch.tensor([p["pose"]], dtype=torch.float32),
                                          torch.tensor([p["shape"]], dtype=torch.float32),
                                          torch.tensor([p["trans"]], dtype=torch.float32), gender=gender)
    return verts[0].numpy()


def _img2bb(ds, record) -> np.ndarray:
    return load_crop(record, ds.aug_params(0), ds.grid)[1]


def test_mscoco_test_split(synth, capsys) -> None:
    ds = build(synth, "MSCOCO", "test")
    out = capsys.readouterr().out
    assert f"Load RootNet output from  {synth['data'] / 'MSCOCO/rootnet_output/bbox_root_coco_output.json'}" in out
    rootnet = read_json(synth["data"] / "MSCOCO/rootnet_output/bbox_root_coco_output.json")
    assert [r.ids["image_id"] for r in ds.datalist] == [e["image_id"] for e in rootnet]
    images = {img["id"]: img for img in
              read_json(synth["data"] / "MSCOCO/annotations/person_keypoints_val2017.json")["images"]}
    for i, (record, entry) in enumerate(zip(ds.datalist, rootnet)):
        check_test_sample(ds[i], i)
        img = images[entry["image_id"]]
        assert "val2017" in str(record.img_path)
        np.testing.assert_allclose(record.cam.focal, [1500, 1500])
        np.testing.assert_allclose(record.cam.princpt, [img["width"] / 2, img["height"] / 2])
        assert record.root_depth == pytest.approx(entry["root_cam"][2])
    assert ds.evaluate([{"mesh_coord_img": np.zeros((6890, 3))}], 0) == {}
    assert ds.report({}, Path("unused")) == EvalReport()


def test_freihand_eval_pred_json(synth, tmp_path, capsys) -> None:
    ds = build(synth, "FreiHAND", "test")
    out = capsys.readouterr().out
    assert "Get bounding box and root from " in out
    coco = read_json(synth["data"] / "FreiHAND/data/freihand_eval_coco.json")
    assert [r.ids["ann_id"] for r in ds.datalist] == [a["id"] for a in coco["annotations"]]
    gt_verts = read_json(synth["data"] / "FreiHAND/data/evaluation_verts.json")
    outs = []
    for i, record in enumerate(ds.datalist):
        sample = ds[i]
        check_test_sample(sample, i)
        verts = np.asarray(gt_verts[i])
        mesh_img = voxelize(cam2pixel(verts, record.cam.focal, record.cam.princpt), record.root_depth,
                            _img2bb(ds, record), 0.3)
        outs.append({"mesh_coord_img": mesh_img, "bb2img_trans": sample[2]["bb2img_trans"]})
    result = {}
    for start in (0, 2):
        for k, v in ds.evaluate(outs[start:start + 2], start).items():
            result.setdefault(k, []).extend(v)
    report = ds.report(result, tmp_path / "result")
    assert report.lines[0] == f"Saved at {tmp_path / 'result' / 'pred.json'}" and list(report.files) == ["pred.json"]
    pred = json.loads(report.files["pred.json"])
    assert len(pred) == 2 and len(pred[0]) == len(pred[1]) == len(ds)
    assert np.asarray(pred[0]).shape == (len(ds), 21, 3) and np.asarray(pred[1]).shape == (len(ds), 778, 3)
    np.testing.assert_allclose(np.asarray(pred[1]), np.asarray(gt_verts), atol=1e-5)  # metres
    out = "\n".join(report.lines)
    assert f"FreiHAND scores on {len(ds)} samples (official evaluation;" in out
    assert report.scores and all(np.isfinite(v) for v in report.scores.values())
    scores = dict(line.rsplit(": ", 1) for line in out.splitlines() if line.startswith("Mesh, "))
    assert float(scores["Mesh, mean error"].removesuffix(" cm")) < 0.005  # cm: the lixel mesh is the GT to 1e-5 m
    assert float(scores["Mesh, mean error, aligned"].removesuffix(" cm")) < 0.005
    assert float(scores["Mesh, F-score at 5 mm"]) == 1.0 and float(scores["Mesh, F-score at 5 mm, aligned"]) == 1.0


# --------------------------------------------------------------------------------------------------------------------
# determinism
# --------------------------------------------------------------------------------------------------------------------

def test_determinism_seed_epoch_and_order(synth) -> None:
    a = build(synth, "MuCo", "train")
    b = build(synth, "MuCo", "train")
    order = list(range(len(a)))[::-1]
    samples_b = {i: b[i] for i in order}  # different access order
    for i in range(len(a)):
        sa, sb = a[i], samples_b[i]
        assert float((sa[0]["img"] - sb[0]["img"]).abs().max()) == 0.0
        for key in TRAIN_TARGET_KEYS:
            np.testing.assert_array_equal(sa[1][key], sb[1][key])
    augs = [a.aug_params(i) for i in range(len(a))]
    a.set_epoch(1)
    assert [a.aug_params(i) for i in range(len(a))] != augs
    other_seed = build(synth, "MuCo", "train", body_cfg(synth, seed=7))
    assert [other_seed.aug_params(i) for i in range(len(a))] != augs


# --------------------------------------------------------------------------------------------------------------------
# MultipleDatasets
# --------------------------------------------------------------------------------------------------------------------

class FakeDataset:
    def __init__(self, tag: str, n: int) -> None:
        self.tag, self.n, self.epoch = tag, n, 0
        self.vertex_num, self.joint_num = 100 + n, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.tag, i

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


def test_multiple_datasets_concat() -> None:
    sets = [FakeDataset("a", 3), FakeDataset("b", 7), FakeDataset("c", 2)]
    md = MultipleDatasets(sets, make_same_len=False)
    md.set_epoch(0)
    assert len(md) == 12 and md.vertex_num == 103 and md.joint_num == 3
    expected = [("a", 0), ("a", 1), ("a", 2)] + [("b", i) for i in range(7)] + [("c", 0), ("c", 1)]
    assert [md[i] for i in range(12)] == expected
    with pytest.raises(IndexError):
        md[12]


def test_multiple_datasets_same_len() -> None:
    sets = [FakeDataset("a", 3), FakeDataset("b", 7), FakeDataset("c", 2)]
    md = MultipleDatasets(sets, make_same_len=True, seed=5)
    md.set_epoch(0)
    assert len(md) == 21
    items = [md[i] for i in range(21)]
    # a (len 3): floor(7/3) = 2 whole repeats -> j = 0..5 -> j % 3; j = 6 random
    assert items[0:6] == [("a", 0), ("a", 1), ("a", 2), ("a", 0), ("a", 1), ("a", 2)]
    assert items[6][0] == "a" and 0 <= items[6][1] <= 2
    assert items[7:14] == [("b", i) for i in range(7)]
    # c (len 2): floor(7/2) = 3 repeats -> j = 0..5 -> j % 2; j = 6 random
    assert items[14:20] == [("c", 0), ("c", 1)] * 3
    assert items[20][0] == "c" and 0 <= items[20][1] <= 1
    # the random fill is a function of (seed, epoch, index) only
    again = MultipleDatasets(sets, make_same_len=True, seed=5)
    again.set_epoch(0)
    assert [again[i] for i in (20, 6)] == [items[20], items[6]]
    draws = set()
    for epoch in range(12):
        md.set_epoch(epoch)
        draws.add(md[6][1])
    assert draws == {0, 1, 2} and sets[0].epoch == 11


def test_build_train_dataset_composition(synth) -> None:
    made = []

    def fake_build(name, cfg, split, human_model):
        made.append((name, split))
        return FakeDataset(name, {"Human36M": 5, "MuCo": 4, "MSCOCO": 3}[name])

    md = build_train_dataset(body_cfg(synth), synth["smpl"], build=fake_build)
    md.set_epoch(0)
    assert made == [("Human36M", "train"), ("MuCo", "train"), ("MSCOCO", "train")]
    assert len(md) == 18 and md.vertex_num == 105  # 1:1 mixing of 9 3D and 3 2D samples
    assert [md[i] for i in range(9)] == [("Human36M", i) for i in range(5)] + [("MuCo", i) for i in range(4)]
    assert [md[i] for i in range(9, 18)] == [("MSCOCO", i) for i in range(3)] * 3
    only_3d = build_train_dataset(body_cfg(synth, trainset_2d=[]), synth["smpl"], build=fake_build)
    assert len(only_3d) == 9 and not only_3d.make_same_len
    with pytest.raises(ValueError, match="no training dataset"):
        build_train_dataset(body_cfg(synth, trainset_3d=[], trainset_2d=[]), synth["smpl"], build=fake_build)


def test_build_train_dataset_on_synthetic_data(synth) -> None:
    md = build_train_dataset(body_cfg(synth), synth["smpl"])
    md.set_epoch(0)
    n3d = len(build(synth, "Human36M", "train")) + len(build(synth, "MuCo", "train"))
    n2d = len(build(synth, "MSCOCO", "train"))
    assert len(md) == 2 * max(n3d, n2d)
    check_train_sample(md[len(md) - 1], BODY_SHAPES, 0.0)
    check_train_sample(md[0], BODY_SHAPES, 1.0)


# --------------------------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------------------------

def test_missing_annotation_file(synth, tmp_path) -> None:
    data = copy_dataset(synth, tmp_path, "Human36M")
    missing = data / "Human36M/annotations/Human36M_subject1_camera.json"
    missing.unlink()
    with pytest.raises(FileNotFoundError) as err:
        build(synth, "Human36M", "train", body_cfg(synth, data))
    assert str(missing) in str(err.value) and "--data_dir" in str(err.value) and "download" in str(err.value)
    (data / "Human36M/J_regressor_h36m_correct.npy").unlink()
    with pytest.raises(FileNotFoundError, match="J_regressor_h36m_correct.npy not found"):
        build(synth, "Human36M", "test", body_cfg(synth, data))


def test_unreadable_and_missing_image(synth, tmp_path) -> None:
    data = copy_dataset(synth, tmp_path, "MuCo", "Human36M")
    ds = build(synth, "MuCo", "train", body_cfg(synth, data))
    path = ds.datalist[1].img_path
    path.write_bytes(b"this is not a jpeg")
    with pytest.raises(OSError, match=r"MuCo \(train\) sample 1 .*failed to read image") as err:
        ds[1]
    assert str(path) in str(err.value)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="image file not found"):
        ds[1]


def test_degenerate_rootnet_box_and_wrong_unit(synth, tmp_path) -> None:
    data = copy_dataset(synth, tmp_path, "PW3D", "Human36M")
    path = data / "PW3D/rootnet_output/bbox_root_pw3d_output.json"
    entries = read_json(path)
    entries[1]["bbox"][2] = 0.0
    path.write_text(json.dumps(entries))
    with pytest.raises(ValueError, match=r"bbox_root_pw3d_output.json: entry 1 .*degenerate bbox"):
        build(synth, "PW3D", "test", body_cfg(synth, data))
    entries[1]["bbox"][2] = 100.0
    for e in entries:
        e["root_cam"] = [v * 1000.0 for v in e["root_cam"]]  # millimetres in a metre file
    path.write_text(json.dumps(entries))
    with pytest.raises(ValueError, match="implausible for a file in m"):
        build(synth, "PW3D", "test", body_cfg(synth, data))


def test_missing_rootnet_entry(synth, tmp_path) -> None:
    data = copy_dataset(synth, tmp_path, "Human36M")
    path = data / "Human36M/rootnet_output/bbox_root_human36m_output.json"
    entries = read_json(path)
    test_ids = [r.ids["image_id"] for r in build(synth, "Human36M", "test").datalist]
    path.write_text(json.dumps([e for e in entries if e["image_id"] != test_ids[-1]]))
    with pytest.raises(KeyError, match=rf"image_id {test_ids[-1]} has no entry in .*bbox_root_human36m_output.json"):
        build(synth, "Human36M", "test", body_cfg(synth, data))
    assert len(build(synth, "Human36M", "test", body_cfg(synth, data, use_gt_info=True))) == len(test_ids)


def test_degenerate_gt_box(synth, tmp_path) -> None:
    data = copy_dataset(synth, tmp_path, "PW3D", "Human36M")
    path = data / "PW3D/data/3DPW_test.json"
    db = read_json(path)
    db["annotations"][0]["bbox"] = [10.0, 10.0, 0.0, 50.0]
    path.write_text(json.dumps(db))
    full = build(synth, "PW3D", "test", body_cfg(synth, use_gt_info=True))
    dropped = build(synth, "PW3D", "test", body_cfg(synth, data, use_gt_info=True))  # rejected box: dropped
    assert len(dropped) == len(full) - 1
    assert [r.ids for r in dropped.datalist] == [r.ids for r in full.datalist[1:]]


def test_pw3d_requires_a_gender(synth, tmp_path) -> None:
    data = copy_dataset(synth, tmp_path, "PW3D", "Human36M")
    path = data / "PW3D/data/3DPW_test.json"
    db = read_json(path)
    del db["annotations"][0]["smpl_param"]["gender"]
    path.write_text(json.dumps(db))
    with pytest.raises(ValueError, match=r"PW3D: annotation \d+ .*gender None"):
        build(synth, "PW3D", "test", body_cfg(synth, data))


def test_empty_dataset(synth, tmp_path) -> None:
    data = copy_dataset(synth, tmp_path, "MuCo", "Human36M")
    path = data / "MuCo/data/MuCo-3DHP.json"
    db = read_json(path)
    for ann in db["annotations"]:
        ann["bbox"] = [5.0, 5.0, 0.0, 0.0]  # rejected by process_bbox -> nothing left
    path.write_text(json.dumps(db))
    with pytest.raises(EmptyDatasetError, match=r"MuCo \(train\): no sample left"):
        build(synth, "MuCo", "train", body_cfg(synth, data))


def test_pw3d_readme_image_layout(synth, tmp_path) -> None:
    data = copy_dataset(synth, tmp_path, "PW3D", "Human36M")
    shutil.move(str(data / "PW3D/data/imageFiles"), str(data / "PW3D/imageFiles"))
    ds = build(synth, "PW3D", "test", body_cfg(synth, data))
    assert ds.datalist[0].img_path.parent.parent == data / "PW3D/imageFiles"
    check_test_sample(ds[0], 0, ("fit_mesh_coord_cam",))


def test_dataset_layers_independent_of_the_network(synth) -> None:
    """Moving the network's layer (e.g. to a GPU) or changing its dtype must not affect sample generation."""
    smpl = synth["smpl"]
    ds = build(synth, "MuCo", "train")
    before = ds[0][1]["fit_mesh_img"]
    layer = smpl.layer()
    layer.double()  # stands in for .to('cuda'): the dataset must keep its own float32 CPU layer
    try:
        after = ds[0][1]["fit_mesh_img"]
    finally:
        layer.float()
    np.testing.assert_array_equal(before, after)
    assert ds.human_model.layer() is not layer


def test_dataloader_workers_follow_set_epoch(synth) -> None:
    """Samples depend on (seed, epoch, index) only: persistent workers see set_epoch, any worker gives the same."""
    md = MultipleDatasets([build(synth, "MuCo", "train"), build(synth, "FreiHAND", "train")], make_same_len=True)
    loader = torch.utils.data.DataLoader(md, batch_size=3, num_workers=2, persistent_workers=True,
                                         worker_init_fn=worker_init_fn)
    for epoch in (0, 1):
        md.set_epoch(epoch)
        got = torch.cat([batch[0]["img"] for batch in loader])
        expected = torch.stack([md[i][0]["img"] for i in range(len(md))])
        assert torch.equal(got, expected), epoch


class _DrawRecorder:
    """A member dataset that returns (local index, draw index) so the mixer's bookkeeping can be read off."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def get_sample(self, idx: int, draw_index: int) -> tuple[int, int]:
        return idx, draw_index


def test_repeated_samples_get_fresh_augmentation_draws(synth) -> None:
    mixer = MultipleDatasets([_DrawRecorder(2), _DrawRecorder(7)], make_same_len=True)
    mixer.set_epoch(0)
    samples = [mixer[i] for i in range(len(mixer))]
    short = samples[:7]  # member 0 (length 2) presented with length 7: 0,1,0,1,0,1 + one random fill
    assert [j for j, _ in short[:6]] == [0, 1, 0, 1, 0, 1]
    assert [d for _, d in samples] == list(range(14))  # every presentation has its own draw index
    ds = build(synth, "MuCo", "train")
    first, again, other = ds.get_sample(0, 0)[0]["img"], ds.get_sample(0, 0)[0]["img"], ds.get_sample(0, 9)[0]["img"]
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert torch.equal(ds[0][0]["img"], first)
