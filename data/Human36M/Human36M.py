"""Human3.6M reader (docs/data.md#human36m): parsed per-subject COCO-style annotations, SMPLify-X fits, RootNet output.

Files under ``<data_dir>/Human36M/``: ``annotations/Human36M_subject{S}_{data,camera,joint_3d,smpl_param}.json``,
``images/<file_name>``, ``J_regressor_h36m_correct.npy``, ``rootnet_output/bbox_root_human36m_output.json``.
Units: joints and camera translation in millimetres; SMPL ``trans`` in metres, pose/trans in the **world** frame
(camera merge + translation compensation in the shared pipeline).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from common.utils.evaluation import evaluate_body_sample, format_body_results
from common.utils.transforms import cam2pixel, world2cam
from data.base import BaseDataset, EvalReport
from data.fitting import RegressedJointsCheck
from data.readers import coco_from_dict
from data.records import H36M_JOINTS, CameraParams, ModelParams, PipelineSpec, SampleRecord
from data.registry import register_dataset


def nested_get(tree: dict, *keys: Any) -> Any:
    """``tree[str(k0)][str(k1)]...`` or ``None`` when any level is missing."""
    node: Any = tree
    for key in keys:
        if not isinstance(node, dict) or str(key) not in node:
            return None
        node = node[str(key)]
    return node


@register_dataset
class Human36M(BaseDataset):
    """Human3.6M: train = S1, S5–S8 every 5th frame, all cameras; test = S9, S11 every 64th frame, camera 4."""

    name = "Human36M"
    splits = ("train", "test")
    subjects = {"train": (1, 5, 6, 7, 8), "test": (9, 11)}
    frame_step = {"train": 5, "test": 64}
    test_camera = 4  # frontal camera, following HMR and SPIN
    joint_set = H36M_JOINTS
    unit_per_m = 1000.0  # annotations in millimetres

    def prepare(self) -> None:
        self.regressor = self.read_h36m_regressor()

    def pipeline_spec(self) -> PipelineSpec:
        return PipelineSpec(joint_set=self.joint_set, is_3d=True, unit_per_m=self.unit_per_m,
                            world_frame_params=True,
                            fit_check=RegressedJointsCheck(self.regressor, self.joint_set.names))

    def filter_summary(self) -> str:
        cams = "all cameras" if self.is_train else f"camera {self.test_camera}"
        return (f"subjects {list(self.subjects[self.split])}, frame_idx % {self.frame_step[self.split]} == 0, "
                f"{cams}")

    def load_datalist(self) -> Iterator[SampleRecord]:
        merged: dict[str, Any] = {}
        cameras, joints, smpl_params = {}, {}, {}
        for subject in self.subjects[self.split]:
            prefix = f"Human36M_subject{subject}"
            for key, value in self.read_json("annotations", f"{prefix}_data.json").items():
                # per-subject dicts merged by list concatenation in subject order: evaluation indexes by position
                # (docs/quirks.md#q-h36m-annotation-merge-order)
                if isinstance(value, list):
                    merged.setdefault(key, []).extend(value)
                else:
                    merged.setdefault(key, value)
            cameras[subject] = self.read_json("annotations", f"{prefix}_camera.json")
            joints[subject] = self.read_json("annotations", f"{prefix}_joint_3d.json")
            if self.is_train:
                smpl_params[subject] = self.read_json("annotations", f"{prefix}_smpl_param.json")
        db = coco_from_dict(merged)

        use_rootnet = not self.is_train and not self.cfg.use_gt_info
        if use_rootnet:
            rootnet = self.read_rootnet("bbox_root_human36m_output.json", key="image_id", unit="mm")
        else:
            print("Get bounding box and root from groundtruth")

        step = self.frame_step[self.split]
        for ann_id in db.anns:
            ann = db.anns[ann_id]
            img = db.loadImgs(ann["image_id"])[0]
            if img["frame_idx"] % step != 0:
                continue
            if not self.is_train and img["cam_idx"] != self.test_camera:
                continue
            subject, frame = img["subject"], (img["action_idx"], img["subaction_idx"], img["frame_idx"])
            cam_param = nested_get(cameras[subject], img["cam_idx"])
            joint_world = nested_get(joints[subject], *frame)
            if cam_param is None or joint_world is None:
                missing = "camera" if cam_param is None else "joint_3d"
                raise KeyError(f"Human36M: no {missing} entry for image {img['id']} (subject {subject}, "
                               f"camera {img['cam_idx']}, action/subaction/frame {frame}) in "
                               f"annotations/Human36M_subject{subject}_{missing}.json")
            cam = CameraParams.make(cam_param["f"], cam_param["c"], cam_param["R"], cam_param["t"])
            joint_cam = world2cam(np.asarray(joint_world, dtype=np.float32), cam.R, cam.t).astype(np.float32)
            joint_img = cam2pixel(joint_cam, cam.focal, cam.princpt).astype(np.float32)
            img_shape = (int(img["height"]), int(img["width"]))

            if use_rootnet:
                bbox, root_depth = rootnet.box_root(img["id"])
            else:
                bbox = self.process_bbox(ann["bbox"], img["width"], img["height"])
                if bbox is None:
                    continue
                root_depth = float(joint_cam[self.joint_set.root_idx, 2])

            smpl = nested_get(smpl_params[subject], *frame) if self.is_train else None
            params = None if smpl is None else ModelParams.make(smpl["pose"], smpl["shape"], smpl["trans"])
            yield SampleRecord(
                img_path=self.path("images", img["file_name"]), img_shape=img_shape, bbox=bbox, cam=cam,
                root_depth=root_depth, joint_img=joint_img, joint_cam=joint_cam,
                joint_valid=np.ones((self.joint_set.num, 1), dtype=np.float32), params=params,
                ids={"image_id": img["id"], "ann_id": ann["id"]})

    def evaluate_sample(self, out: dict[str, np.ndarray], record: SampleRecord) -> dict[str, float]:
        """MPJPE / PA-MPJPE (mm) of the lixel mesh and, in the param stage, of the param mesh.

        Protocol: docs/evaluation.md#human36m-protocol."""
        mesh_lixel = self.lixel_mesh_cam(out, record, self.unit_per_m, record.root_depth)
        mesh_param = out["mesh_coord_cam"] * 1000.0 if "mesh_coord_cam" in out else None
        return evaluate_body_sample(mesh_lixel, record.joint_cam, self.regressor, mesh_param, scale=1.0)

    def report(self, eval_result: dict[str, list], result_dir: Path) -> EvalReport:
        """The original's MPJPE / PA-MPJPE lines (and MPVPE where measured)."""
        return EvalReport(lines=format_body_results(eval_result, print_fn=None))
