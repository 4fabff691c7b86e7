"""3DPW reader (docs/data.md#pw3d; a test set only: the original has no training branch).

Files under ``<data_dir>/PW3D/``: ``data/3DPW_{train,validation,test}.json`` (COCO-style, from the 3DPW conversion
tool; ids are global across the three splits), images at ``data/imageFiles/<sequence>/<file_name>`` (where the
original code looks; ``imageFiles/`` beside ``data/`` as the original README draws it is accepted too:
docs/quirks.md#q-3dpw-image-path), ``rootnet_output/bbox_root_pw3d_output.json`` (by ``ann_id``; root depth in
**metres**, unlike the Human3.6M and MSCOCO files: docs/quirks.md#q-rootnet-depth-units).
Ground truth: the gendered SMPL layer with translation, camera space, metres.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from common.utils.evaluation import evaluate_body_sample, format_body_results
from data.base import BaseDataset, EvalReport
from data.fitting import model_mesh_cam
from data.records import CameraParams, ModelParams, SampleRecord
from data.registry import register_dataset


@register_dataset
class PW3D(BaseDataset):
    """3DPW: every annotated person of the split file, in file order."""

    name = "PW3D"
    splits = ("test", "validation")
    train_splits = ()
    unit_per_m = 1.0  # metres

    def prepare(self) -> None:
        self.regressor = self.read_h36m_regressor()

    @property
    def image_dir(self) -> Path:
        """``data/imageFiles`` (the code's path), else ``imageFiles`` beside ``data/`` if only that one exists."""
        code_path = self.path("data", "imageFiles")
        readme_path = self.path("imageFiles")
        return readme_path if not code_path.is_dir() and readme_path.is_dir() else code_path

    def load_datalist(self) -> Iterator[SampleRecord]:
        db = self.read_coco("data", f"3DPW_{self.split}.json")
        if self.cfg.use_gt_info:
            print("Get bounding box and root from groundtruth")
        else:
            rootnet = self.read_rootnet("bbox_root_pw3d_output.json", key="ann_id", unit="m")
        image_dir = self.image_dir
        for ann_id, ann in db.anns.items():
            img = db.loadImgs(ann["image_id"])[0]
            if self.cfg.use_gt_info:
                bbox = self.process_bbox(ann["bbox"], img["width"], img["height"])
                if bbox is None:  # rejected GT box: dropped, as every reader does
                    continue
                root_depth = None  # from the GT mesh at evaluation time
            else:
                bbox, root_depth = rootnet.box_root(ann_id)
            smpl = ann["smpl_param"]
            yield SampleRecord(
                img_path=image_dir / img["sequence"] / img["file_name"],
                img_shape=(int(img["height"]), int(img["width"])), bbox=bbox,
                cam=CameraParams.make(img["cam_param"]["focal"], img["cam_param"]["princpt"]),
                root_depth=root_depth,
                params=ModelParams.make(smpl["pose"], smpl["shape"], smpl["trans"], self.gender(smpl, ann_id)),
                ids={"image_id": img["id"], "ann_id": ann_id})

    def gender(self, smpl_param: dict, ann_id: int) -> str:
        """The annotation's SMPL gender ('male' / 'female'); anything else is an error naming the annotation."""
        gender = smpl_param.get("gender")
        if gender not in ("male", "female"):
            raise ValueError(f"PW3D: annotation {ann_id} in data/3DPW_{self.split}.json has smpl_param.gender "
                             f"{gender!r}; expected 'male' or 'female' (regenerate the file with the 3DPW converter)")
        return gender

    def test_targets(self, record: SampleRecord) -> dict[str, np.ndarray]:
        """``fit_mesh_coord_cam``: (6890, 3) GT mesh, camera space, metres (gendered SMPL with translation)."""
        assert record.params is not None
        return {"fit_mesh_coord_cam": model_mesh_cam(self.human_model, record.params)}

    def evaluate_sample(self, out: dict[str, np.ndarray], record: SampleRecord) -> dict[str, float]:
        """MPJPE / PA-MPJPE / MPVPE (mm) of the lixel and (param stage) param meshes.

        Protocol: docs/evaluation.md#pw3d-protocol."""
        gt_mesh = out["mesh_coord_cam_target"]
        gt_joints = self.regressor @ gt_mesh.astype(np.float64)
        root_depth = record.root_depth if record.root_depth is not None else float(gt_joints[0, 2])
        mesh_lixel = self.lixel_mesh_cam(out, record, self.unit_per_m, root_depth)
        return evaluate_body_sample(mesh_lixel, gt_joints, self.regressor, out.get("mesh_coord_cam"),
                                    scale=1000.0, gt_mesh_cam=gt_mesh)

    def report(self, eval_result: dict[str, list], result_dir: Path) -> EvalReport:
        """The original's MPJPE / PA-MPJPE lines (and MPVPE where measured)."""
        return EvalReport(lines=format_body_results(eval_result, print_fn=None))
