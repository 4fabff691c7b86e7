"""The predictor: a snapshot in, people out (docs/demo.md#python-api).

    from main.predictor.predictor import Crop, Predictor
    predictor = Predictor("snapshot_8.pth.tar", {"human_model_dir": "common/utils/human_model_files"})
    [pred] = predictor.predict([Crop(image, bbox=np.array([x, y, w, h]), focal=(1500, 1500), princpt=(cx, cy))])
    pred.result.joints_cam, pred.result.pose, pred.result.mesh_param_cam  # camera metres, axis-angle, metres

The snapshot is read once; body (SMPL) or hand (MANO) comes from its weights.  People of any number of images go
through the test-only network together, in batches of ``test_batch_size``.  A left hand (``is_right=False``) is
mirrored into the right-handed hand model and its outputs mirrored back (docs/hands.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from common.checkpoint import CheckpointInfo, inspect_checkpoint, load_checkpoint_file, load_network
from common.config import Config, make_config
from common.nets.inference import prepare_inference
from common.nets.precision import autocast_context
from common.utils.human_models import HumanModel, build_human_model
from common.utils.preprocessing import generate_patch_image, require_bbox, to_input_tensor
from common.utils.stopwatch import StageTimes
from common.utils.transforms import lixel_to_image, pixel2cam
from main.networks import build_model_from_config
from main.predictor.errors import DemoError
from main.predictor.hands import mirror_mesh_cam, mirror_points_img
from main.predictor.outputs import PersonMesh, map_person_outputs
from main.predictor.people import estimate_root_depth
from main.predictor.results import PersonResult

HAND_DATASETS = {"trainset_3d": ("FreiHAND",), "trainset_2d": (), "testset": "FreiHAND"}


@dataclass
class Crop:
    """One person (or hand) to run: ``image`` (H, W, 3) RGB (uint8 or float [0, 255]); ``bbox`` (4,) x, y, w, h
    pixels as given or detected; ``focal``, ``princpt`` pixels; ``is_right`` False for a left hand (mirrored), None
    for a body; ``root_depth`` metres (None: estimated from the box); ``score``, ``track_id`` carried to the result."""

    image: np.ndarray
    bbox: np.ndarray
    focal: tuple[float, float]
    princpt: tuple[float, float]
    is_right: bool | None = None
    root_depth: float | None = None
    score: float | None = None
    track_id: int = 0


@dataclass
class Prediction:
    """A crop's outputs: ``result`` (what the results files hold), ``mesh`` (the image- and camera-space meshes the
    single-image drawings use), ``bbox_proc`` (4,) the processed box the network saw, ``depth_source`` text."""

    result: PersonResult
    mesh: PersonMesh
    bbox_proc: np.ndarray
    depth_source: str


def check_stage(info: CheckpointInfo, stage: str, path: Path) -> None:
    """``--stage param`` needs trained param_regressor weights."""
    if stage != "param":
        return
    fix = ("run the demo with --stage lixel, or train the param stage first "
           "(cd main && python train.py --stage param --continue) and use its snapshot")
    if not info.has_param_regressor:
        raise DemoError(f"{path} has no param_regressor weights, which --stage param needs: {fix}")
    if info.stage == "lixel":
        raise DemoError(f"{path} is a lixel-stage snapshot ({info.stage_source} says so): its param_regressor "
                        f"weights are untrained, so --stage param would show a random mesh; {fix}")


def snapshot_config(info: CheckpointInfo, overrides: dict[str, Any]) -> Config:
    """The run's Config: the checkpoint's variant and ResNet depth, every other field from ``overrides``."""
    extra = dict(overrides)
    datasets_given = any(extra.get(k) is not None for k in HAND_DATASETS)
    if info.is_hand and not datasets_given:
        extra.update(HAND_DATASETS)
    if extra.get("resnet_type") is None:
        extra["resnet_type"] = info.resnet_type
    try:
        cfg = make_config(**extra)
    except ValueError as exc:
        raise DemoError(str(exc)) from exc
    if cfg.is_hand != info.is_hand:
        want = "hand (MANO)" if info.is_hand else "body (SMPL)"
        raise DemoError(f"the snapshot is a {want} model but --trainset_3d/--trainset_2d/--testset select the "
                        f"{'hand' if cfg.is_hand else 'body'} variant; drop those flags (the demo reads the "
                        f"variant from the snapshot)")
    return cfg


class Predictor:
    """A snapshot's test-only network with the mapping of its outputs to image and camera space.

    ``overrides``: Config fields (as the command-line flags set them: ``human_model_dir``, ``amp``, ``exact``,
    ``test_batch_size`` ...); ``stage``: "param" (lixel and param outputs) or "lixel"; ``device``: where the
    network runs; ``checkpoint``: the snapshot's contents when already read; ``times``: where the seconds of the
    crops ("crop"), the network ("network") and the output mapping ("mapping") are added.
    """

    def __init__(self, model_path: str | Path, overrides: dict[str, Any] | None = None, stage: str = "param",
                 device: torch.device | str = "cpu", checkpoint: dict | None = None,
                 times: StageTimes | None = None) -> None:
        self.model_path = Path(model_path)
        self.times = times or StageTimes()
        ckpt = checkpoint if checkpoint is not None else load_checkpoint_file(self.model_path)
        self.info = inspect_checkpoint(ckpt, self.model_path)
        check_stage(self.info, stage, self.model_path)
        self.cfg = snapshot_config(self.info, {**(overrides or {}), "stage": stage})
        self.stage = stage
        self.device = torch.device(device)
        self.human_model: HumanModel = build_human_model(self.cfg.is_hand, self.cfg.human_model_dir)
        model = build_model_from_config(self.cfg, self.human_model)
        load_network(model, ckpt["network"], source=str(self.model_path))
        del ckpt
        model = model.to(self.device).eval()
        # test-only network: BatchNorm folded into the convolutions, conv weights in the --amp dtype
        self.model = model if self.cfg.exact else prepare_inference(model, self.cfg.amp)
        self._root_weights = np.asarray(self.human_model.joint_regressor[self.human_model.root_joint_idx],
                                        dtype=np.float64)

    @property
    def kind(self) -> str:
        """"hand" (MANO) or "body" (SMPL)."""
        return "hand" if self.cfg.is_hand else "body"

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) triangle vertex indices of the mesh."""
        return self.human_model.face

    def process_box(self, bbox: np.ndarray, width: int, height: int) -> np.ndarray:
        """The processed (square, enlarged) box the network sees, (4,) pixels; a clear error for unusable boxes."""
        input_shape = self.cfg.input_img_shape
        try:
            return require_bbox(np.asarray(bbox, dtype=np.float64), width, height, input_shape[1] / input_shape[0])
        except ValueError as exc:
            raise DemoError(f"box {np.round(bbox, 1).tolist()}: {exc}") from exc

    def predict(self, crops: Sequence[Crop]) -> list[Prediction]:
        """Run the network on every crop (batches of ``test_batch_size``) and map the outputs; one per crop."""
        predictions: list[Prediction] = []
        batch = max(1, int(self.cfg.test_batch_size))
        for first in range(0, len(crops), batch):
            predictions += self._predict_batch(crops[first:first + batch])
        return predictions

    def _predict_batch(self, crops: Sequence[Crop]) -> list[Prediction]:
        procs, patches, bb2imgs = [], [], []
        with self.times("crop"):
            self._crop(crops, procs, patches, bb2imgs)
        with self.times("network"), torch.inference_mode(), autocast_context(self.device, self.cfg.amp):
            out = self.model({"img": torch.stack(patches).to(self.device)}, {}, {}, "test")
            out = {k: v.float().cpu().numpy() for k, v in out.items()}
        with self.times("mapping"):
            return [self._map(crop, proc, bb2img, {k: v[i] for k, v in out.items()})
                    for i, (crop, proc, bb2img) in enumerate(zip(crops, procs, bb2imgs))]

    def _crop(self, crops: Sequence[Crop], procs: list, patches: list, bb2imgs: list) -> None:
        for crop in crops:
            height, width = crop.image.shape[:2]
            proc = self.process_box(crop.bbox, width, height)
            patch, _, bb2img = generate_patch_image(crop.image, proc, 1.0, 0.0, crop.is_right is False,
                                                    self.cfg.input_img_shape)
            procs.append(proc)
            patches.append(to_input_tensor(patch))
            bb2imgs.append(bb2img)

    def _map(self, crop: Crop, proc: np.ndarray, bb2img: np.ndarray, out: dict[str, np.ndarray]) -> Prediction:
        cfg, unit = self.cfg, self.human_model.param_unit_per_m
        mirrored = crop.is_right is False
        width = crop.image.shape[1]
        if crop.root_depth is not None:
            depth, depth_source = float(crop.root_depth), "--root_depth"
        else:
            depth, depth_source = estimate_root_depth(proc, crop.focal, cfg.is_hand), "estimated from the box"
        mesh_rel = out.get("mesh_coord_cam")
        mesh = map_person_outputs(out["mesh_coord_img"], bb2img, depth, crop.focal, crop.princpt, self._root_weights,
                                  cfg.bbox_3d_size, mesh_rel, unit, cfg.input_img_shape, cfg.output_hm_shape,
                                  mirrored_width=width if mirrored else None)
        joints_img = lixel_to_image(out["joint_coord_img"], bb2img, cfg.bbox_3d_size, cfg.input_img_shape,
                                    cfg.output_hm_shape).astype(np.float64)
        if mirrored:
            joints_img = mirror_points_img(joints_img, width)
        joints_cam = pixel2cam(joints_img + np.array([0.0, 0.0, depth]), crop.focal, crop.princpt)
        pose = shape = trans = None
        if mesh_rel is not None:
            pose, shape = out["pose_param"].astype(np.float64), out["shape_param"].astype(np.float64)
            trans = self.camera_translation(pose, shape, mesh.root_cam, mirrored)
        result = PersonResult(
            kind=self.kind, track_id=int(crop.track_id), is_right=crop.is_right if cfg.is_hand else None,
            bbox=np.asarray(crop.bbox, dtype=np.float64), score=crop.score, root_depth=depth,
            joints_img=joints_img[:, :2], joints_cam=joints_cam, mesh_lixel_cam=mesh.lixel_cam,
            pose=pose, shape=shape, trans=trans, mesh_param_cam=mesh.param_cam)
        return Prediction(result=result, mesh=mesh, bbox_proc=proc, depth_source=depth_source)

    def layer_mesh(self, pose: np.ndarray, shape: np.ndarray) -> np.ndarray:
        """(V, 3) float64 metres: the SMPL/MANO layer's mesh of ``pose`` (72 / 48,) and ``shape`` (10,), without
        translation (the MANO layer's millimetres converted)."""
        with torch.no_grad():
            verts, _ = self.human_model.forward(torch.as_tensor(pose, dtype=torch.float32)[None],
                                                torch.as_tensor(shape, dtype=torch.float32)[None])
        return verts[0].double().numpy() / self.human_model.param_unit_per_m

    def camera_translation(self, pose: np.ndarray, shape: np.ndarray, root_cam: np.ndarray,
                           mirrored: bool) -> np.ndarray:
        """(3,) metres placing the layer mesh at ``root_cam``: mesh = layer(pose, shape) + trans (mirrored
        first for a left hand), with the root joint taken as the network does (the I2L regressor's root row)."""
        root = self._root_weights @ self.layer_mesh(pose, shape)
        if mirrored:
            root = root * np.array([-1.0, 1.0, 1.0])
        return np.asarray(root_cam, dtype=np.float64) - root

    def param_mesh(self, pose: np.ndarray, shape: np.ndarray, trans: np.ndarray, is_right: bool | None) -> np.ndarray:
        """(V, 3) metres: the param mesh that ``pose``, ``shape``, ``trans`` (and ``is_right``) describe."""
        verts = self.layer_mesh(pose, shape)
        if is_right is False:
            verts = mirror_mesh_cam(verts, self.faces)[0]
        return verts + np.asarray(trans, dtype=np.float64)
