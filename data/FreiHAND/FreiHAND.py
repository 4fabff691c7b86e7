"""FreiHAND reader (docs/data.md#freihand; the hand / MANO variant).

Files under ``<data_dir>/FreiHAND/``: ``data/freihand_{train,eval}_coco.json`` (COCO-style; images carry ``db_idx``),
``data/freihand_{train,eval}_data.json`` (by ``str(db_idx)``: ``cam_param``; train also ``mano_param`` with the root
already in the camera frame and ``trans`` in metres, ``joint_3d``), images under ``data/training/`` and
``data/evaluation/``, ``rootnet_output/bbox_root_freihand_output.json`` (root depth in **metres**).
Evaluation reports the official ``pred.json`` (joints and meshes, datalist order) and, when
``evaluation_xyz.json`` / ``evaluation_verts.json`` exist under ``data/``, local scores.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from common.utils.evaluation import freihand_pred_entry, freihand_pred_json
from common.utils.freihand_scores import format_freihand_scores, freihand_scores, load_freihand_eval_gt
from data.base import BaseDataset, EvalReport
from data.records import CameraParams, ModelParams, PipelineSpec, SampleRecord
from data.registry import register_dataset


@register_dataset
class FreiHAND(BaseDataset):
    """FreiHAND: right hands only (no flip augmentation); MANO targets in the shared pipeline."""

    name = "FreiHAND"
    splits = ("train", "test")
    unit_per_m = 1.0  # metres

    def pipeline_spec(self) -> PipelineSpec:
        return PipelineSpec(joint_set=None, is_3d=True, unit_per_m=self.unit_per_m, allow_flip=False)

    def filter_summary(self) -> str:
        return "box accepted by process_bbox" if self.is_train else "none"

    def load_datalist(self) -> Iterator[SampleRecord]:
        part = "train" if self.is_train else "eval"
        db = self.read_coco("data", f"freihand_{part}_coco.json")
        data = self.read_json("data", f"freihand_{part}_data.json")
        if not self.is_train:
            rootnet = self.read_rootnet("bbox_root_freihand_output.json", key="image_id", unit="m")
        for ann_id, ann in db.anns.items():
            img = db.loadImgs(ann["image_id"])[0]
            entry = data.get(str(img["db_idx"]))
            if entry is None:
                raise KeyError(f"FreiHAND: image {img['id']} has db_idx {img['db_idx']}, which is missing from "
                               f"{self.path('data', f'freihand_{part}_data.json')}")
            cam = CameraParams.make(entry["cam_param"]["focal"], entry["cam_param"]["princpt"])
            if self.is_train:
                bbox = self.process_bbox(ann["bbox"], img["width"], img["height"])
                if bbox is None:
                    continue
                mano = entry["mano_param"]
                params = ModelParams.make(mano["pose"], mano["shape"], mano["trans"])
                root_depth = float(entry["joint_3d"][0][2])  # stored like the original; unused
            else:
                bbox, root_depth = rootnet.box_root(img["id"])
                params = None
            yield SampleRecord(
                img_path=self.path("data", img["file_name"]), img_shape=(int(img["height"]), int(img["width"])),
                bbox=bbox, cam=cam, root_depth=root_depth, params=params,
                ids={"image_id": img["id"], "ann_id": ann_id})

    def evaluate_sample(self, out: dict[str, np.ndarray], record: SampleRecord) -> dict[str, np.ndarray]:
        """One ``pred.json`` entry: lixel stage -> absolute lixel mesh (m); param stage -> ``mesh_coord_cam`` as the
        network outputs it (root-relative mm, kept so the file equals the original's:
        docs/quirks.md#q-freihand-param-pred-units). Joints from the I2L hand regressor (vertex 445)."""
        if "mesh_coord_cam" in out:
            mesh = out["mesh_coord_cam"]
        else:
            mesh = self.lixel_mesh_cam(out, record, self.unit_per_m, record.root_depth)
        joints, verts = freihand_pred_entry(mesh, self.human_model.joint_regressor)
        return {"joint_out": joints, "mesh_out": verts}

    def report(self, eval_result: dict[str, list], result_dir: Path) -> EvalReport:
        """``pred.json`` for the official server (announced with the original's ``Saved at <path>`` line) and, if the
        evaluation ground truth is available locally, the official FreiHAND evaluation's scores and their lines
        (mean errors in cm, AUCs, F-scores)."""
        joints, meshes = eval_result.get("joint_out", []), eval_result.get("mesh_out", [])
        report = EvalReport(lines=[f"Saved at {Path(result_dir) / 'pred.json'}"],
                            files={"pred.json": freihand_pred_json(joints, meshes)})
        gt = load_freihand_eval_gt(self.cfg.data_dir)
        if gt is None:
            return report
        gt_xyz, gt_verts = gt
        if len(gt_xyz) != len(joints):
            report.lines.append(f"FreiHAND: local ground truth has {len(gt_xyz)} samples but {len(joints)} were "
                                f"predicted; scores skipped")
            return report
        scores = freihand_scores(joints, meshes, gt_xyz, gt_verts)
        report.lines += format_freihand_scores(scores, print_fn=None)
        report.scores = {k: float(v) for k, v in scores.items()}
        return report
