"""MuCo-3DHP reader (docs/data.md#muco; training only).

Files under ``<data_dir>/MuCo/data/``: ``MuCo-3DHP.json`` (COCO-style; images carry ``f``/``c``, annotations carry
``keypoints_cam`` (21, 3) mm and ``keypoints_img`` (21, 2) px), ``smpl_param.json`` (by annotation id; camera-frame
pose, ``trans`` in metres), images under ``augmented_set/`` and ``unaugmented_set/``.
Only the closest person (smallest pelvis depth) of every image is used, as in the original: this choice defines the
training data (docs/quirks.md#q-muco-closest-person-h36m-sampling).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from data.base import BaseDataset
from data.fitting import RegressedJointsCheck
from data.records import CameraParams, JointSet, ModelParams, PipelineSpec, SampleRecord
from data.registry import register_dataset

MUCO_JOINTS = JointSet(
    names=("Head_top", "Thorax", "R_Shoulder", "R_Elbow", "R_Wrist", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Hip",
           "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Spine", "Head", "R_Hand", "L_Hand", "R_Toe",
           "L_Toe"),
    flip_pairs=((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (17, 18), (19, 20)),
    root_idx=14,
)


@register_dataset
class MuCo(BaseDataset):
    """MuCo-3DHP composited training set: one (closest) person per image."""

    name = "MuCo"
    splits = ("train",)
    joint_set = MUCO_JOINTS
    unit_per_m = 1000.0  # keypoints_cam in millimetres

    def prepare(self) -> None:
        self.regressor = self.read_h36m_regressor()

    def pipeline_spec(self) -> PipelineSpec:
        return PipelineSpec(joint_set=self.joint_set, is_3d=True, unit_per_m=self.unit_per_m,
                            fit_check=RegressedJointsCheck(self.regressor, self.joint_set.names))

    def filter_summary(self) -> str:
        return "closest person per image, box accepted by process_bbox"

    def load_datalist(self) -> Iterator[SampleRecord]:
        db = self.read_coco("data", "MuCo-3DHP.json")
        smpl_params = self.read_json("data", "smpl_param.json")
        root = self.joint_set.root_idx
        for img_id, img in db.imgs.items():
            anns = db.loadAnns(db.getAnnIds(imgIds=[img_id]))
            if not anns:
                continue
            ann = anns[int(np.argmin([a["keypoints_cam"][root][2] for a in anns]))]
            bbox = self.process_bbox(ann["bbox"], img["width"], img["height"])
            if bbox is None:
                continue
            joint_cam = np.asarray(ann["keypoints_cam"], dtype=np.float32)
            joint_img = np.concatenate((np.asarray(ann["keypoints_img"], dtype=np.float32), joint_cam[:, 2:]), 1)
            smpl = smpl_params.get(str(ann["id"]))
            params = None if smpl is None else ModelParams.make(smpl["pose"], smpl["shape"], smpl["trans"])
            yield SampleRecord(
                img_path=self.path("data", img["file_name"]), img_shape=(int(img["height"]), int(img["width"])),
                bbox=bbox, cam=CameraParams.make(img["f"], img["c"]), root_depth=float(joint_cam[root, 2]),
                joint_img=joint_img, joint_cam=joint_cam,
                joint_valid=np.ones((self.joint_set.num, 1), dtype=np.float32), params=params,
                ids={"image_id": img_id, "ann_id": ann["id"]})
