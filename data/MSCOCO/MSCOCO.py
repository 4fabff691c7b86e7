"""MS-COCO 2017 reader (docs/data.md#mscoco): 2D keypoints + SMPLify-X fits for training, RootNet boxes on val2017 for
(qualitative) testing.

Files under ``<data_dir>/MSCOCO/``: ``annotations/person_keypoints_{train,val}2017.json``,
``annotations/coco_smplifyx_train.json`` (by annotation id: ``smpl_param`` in metres + the fit's ``cam_param``),
``J_regressor_coco_hip_smpl.npy``, ``images/{train2017,val2017}/``, ``rootnet_output/bbox_root_coco_output.json``
(root depth in millimetres).
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from data.base import BaseDataset
from data.fitting import ProjectedKeypointsCheck, append_pelvis
from data.records import CameraParams, JointSet, ModelParams, PipelineSpec, SampleRecord
from data.registry import register_dataset

#: The 17 COCO keypoints + a pelvis appended from the hips (18 joints).
COCO_JOINTS = JointSet(
    names=("Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear", "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist",
           "R_Wrist", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Pelvis"),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    root_idx=17,
)
L_HIP, R_HIP = COCO_JOINTS.index("L_Hip"), COCO_JOINTS.index("R_Hip")
#: virtual camera of the val2017 test samples
TEST_FOCAL = (1500.0, 1500.0)


@register_dataset
class MSCOCO(BaseDataset):
    """MS-COCO: ``'train'`` -> train2017; ``'test'`` (and ``'val'``) -> val2017, as in the original.

    The SMPLify-X fits are read for training only (docs/quirks.md#q-coco-test-is-val2017)."""

    name = "MSCOCO"
    splits = ("train", "test", "val")
    joint_set = COCO_JOINTS
    unit_per_m = 1.0  # SMPLify-X fits in metres
    rootnet_message = "Load RootNet output from  "  # sic: two spaces, as the original prints

    @property
    def coco_split(self) -> str:
        return "train" if self.split == "train" else "val"

    def prepare(self) -> None:
        if self.is_train:
            self.regressor = self.read_regressor("MSCOCO", "J_regressor_coco_hip_smpl.npy", 17)

    def pipeline_spec(self) -> PipelineSpec:
        return PipelineSpec(joint_set=self.joint_set, is_3d=False, unit_per_m=self.unit_per_m,
                            fit_check=ProjectedKeypointsCheck(self.regressor, L_HIP, R_HIP))

    def filter_summary(self) -> str:
        if self.is_train:
            return "not iscrowd, num_keypoints > 0, box accepted by process_bbox"
        return "RootNet entries whose image_id is in val2017"

    def load_datalist(self) -> Iterator[SampleRecord]:
        db = self.read_coco("annotations", f"person_keypoints_{self.coco_split}2017.json")
        if self.is_train:
            return self._train_datalist(db)
        return self._test_datalist(db)

    def _img_path(self, img: dict) -> Any:
        return self.path("images", f"{self.coco_split}2017", img["file_name"])

    def _train_datalist(self, db: Any) -> Iterator[SampleRecord]:
        fits = self.read_json("annotations", "coco_smplifyx_train.json")
        for ann_id, ann in db.anns.items():
            if ann.get("iscrowd", 0) or ann["num_keypoints"] == 0:
                continue
            img = db.loadImgs(ann["image_id"])[0]
            bbox = self.process_bbox(ann["bbox"], img["width"], img["height"])
            if bbox is None:
                continue
            keypoints = append_pelvis(np.asarray(ann["keypoints"], dtype=np.float32).reshape(-1, 3), L_HIP, R_HIP)
            valid = (keypoints[:, 2:] > 0).astype(np.float32)
            keypoints[:, 2] = 0
            fit = fits.get(str(ann_id))
            params = cam = None
            if fit is not None:
                smpl, cam_param = fit["smpl_param"], fit["cam_param"]
                params = ModelParams.make(smpl["pose"], smpl["shape"], smpl["trans"])
                cam = CameraParams.make(cam_param["focal"], cam_param["princpt"])
            yield SampleRecord(
                img_path=self._img_path(img), img_shape=(int(img["height"]), int(img["width"])), bbox=bbox,
                cam=cam, joint_img=keypoints, joint_valid=valid, params=params,
                ids={"image_id": img["id"], "ann_id": ann_id})

    def _test_datalist(self, db: Any) -> Iterator[SampleRecord]:
        for entry in self.read_rootnet("bbox_root_coco_output.json", key="image_id", unit="mm").entries:
            img = db.imgs.get(entry["image_id"])
            if img is None:
                continue
            width, height = img["width"], img["height"]
            yield SampleRecord(
                img_path=self._img_path(img), img_shape=(int(height), int(width)),
                bbox=np.asarray(entry["bbox"], dtype=np.float64),
                cam=CameraParams.make(TEST_FOCAL, (width / 2, height / 2)), root_depth=float(entry["root_cam"][2]),
                ids={"image_id": img["id"]})
