"""Person detector for the demo: torchvision's Faster R-CNN (ResNet-50 FPN) with its COCO weights.

The weights are torchvision's ``FasterRCNN_ResNet50_FPN_Weights.COCO_V1``.  They are read from the torch hub cache
(``$TORCH_HOME/hub/checkpoints/``, by default ``~/.cache/torch/hub/checkpoints/``) and downloaded there through
torchvision's weights API when missing and online; or they are read from a file given explicitly.  Offline without
the file, :class:`DetectorWeightsError` says where to put it.  Files are loaded with ``weights_only=True`` and strictly
(every key and shape must match).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common.errors import UserError

__all__ = ["COCO_PERSON", "Detection", "DetectorWeightsError", "weights_url", "cached_weights_path",
           "build_person_detector", "load_detector_weights", "detect_people"]

COCO_PERSON = 1  # category id of "person" in torchvision's COCO detection labels


class DetectorWeightsError(UserError, RuntimeError):
    """The detector weights are missing, cannot be downloaded, or do not fit the network."""


@dataclass(frozen=True)
class Detection:
    """One detected person: ``bbox`` (x, y, w, h) in pixels of the input image, ``score`` in [0, 1]."""

    bbox: tuple[float, float, float, float]
    score: float


def _weights_enum():
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights  # noqa: PLC0415

    return FasterRCNN_ResNet50_FPN_Weights.COCO_V1


def weights_url() -> str:
    """Download URL of the COCO_V1 weights."""
    return _weights_enum().url


def cached_weights_path() -> Path:
    """Where torchvision's weights API keeps the COCO_V1 file: ``<torch.hub.get_dir()>/checkpoints/<file name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / weights_url().rsplit("/", 1)[-1]


def _missing_weights_message(reason: str) -> str:
    path = cached_weights_path()
    return (
        f"the person detector's weights (torchvision Faster R-CNN ResNet-50 FPN, COCO_V1) are not available: "
        f"{reason}. Download {weights_url()} into {path.parent}/ (keep the file name {path.name}; the folder follows "
        f"$TORCH_HOME), or pass the file with --detector_weights FILE, or skip the detector by giving the boxes "
        f"with --bbox x y w h (one per person) or --bbox_json FILE"
    )


def _network(score_thresh: float) -> nn.Module:
    from torchvision.models.detection import fasterrcnn_resnet50_fpn  # noqa: PLC0415

    return fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91,
                                   box_score_thresh=float(score_thresh))


def load_detector_weights(model: nn.Module, path: str | Path) -> None:
    """Load a Faster R-CNN state dict file strictly into ``model``; errors name the file and the keys."""
    path = Path(path)
    if not path.is_file():
        raise DetectorWeightsError(_missing_weights_message(f"{path} does not exist"))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise DetectorWeightsError(f"{path}: cannot be read as a PyTorch state dict with weights_only=True "
                                   f"({exc}); download it again from {weights_url()}") from exc
    if not isinstance(state, dict):
        raise DetectorWeightsError(f"{path}: expected a state dict (a dict of tensors), got {type(state).__name__}")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        raise DetectorWeightsError(
            f"{path} does not hold Faster R-CNN ResNet-50 FPN (COCO, 91 classes) weights: missing keys "
            f"{missing[:5]}{'...' if len(missing) > 5 else ''} ({len(missing)}), unexpected keys "
            f"{unexpected[:5]}{'...' if len(unexpected) > 5 else ''} ({len(unexpected)}), shape mismatches "
            f"{mismatched[:5]} ({len(mismatched)}); use the file from {weights_url()}")
    model.load_state_dict(state, strict=True)


def build_person_detector(weights_file: str | Path | None = None, score_thresh: float = 0.5,
                          device: torch.device | str = "cpu", download: bool = True) -> nn.Module:
    """Faster R-CNN in eval mode on ``device`` with the COCO_V1 weights.

    ``weights_file``: a state-dict file to load instead of the cached COCO_V1 file.  Without it the hub-cache file
    is used, downloaded first through torchvision's weights API when missing and ``download`` is true.
    ``score_thresh``: detections scoring below it are dropped by the network itself.
    Raises :class:`DetectorWeightsError` with the URL, the cache folder and the alternatives when no weights load.
    """
    model = _network(score_thresh)
    if weights_file is None:
        path = cached_weights_path()
        if not path.is_file():
            if not download:
                raise DetectorWeightsError(_missing_weights_message(f"{path} does not exist"))
            print(f"Downloading the person detector's weights from {weights_url()} to {path.parent}/")
            try:
                _weights_enum().get_state_dict(progress=True, check_hash=True)
            except (OSError, RuntimeError) as exc:  # URLError is an OSError; a hash mismatch a RuntimeError
                raise DetectorWeightsError(_missing_weights_message(
                    f"{path} does not exist and the download failed ({type(exc).__name__}: {exc})")) from exc
        weights_file = path
    load_detector_weights(model, weights_file)
    return model.eval().to(device)


@torch.no_grad()
def detect_people(model: nn.Module, img: np.ndarray, score_thresh: float = 0.5,
                  device: torch.device | str = "cpu") -> list[Detection]:
    """Person boxes in an (H, W, 3) RGB image (uint8 or float in [0, 255]), best score first.

    Keeps the detections of COCO category 1 ("person") with score >= ``score_thresh``; boxes are (x, y, w, h)
    in pixels, inside the image (the detector clips them).
    """
    tensor = torch.from_numpy(np.ascontiguousarray(np.asarray(img, dtype=np.float32).transpose(2, 0, 1)) / 255.0)
    out = model([tensor.to(device)])[0]
    boxes = out["boxes"].cpu().numpy().astype(np.float64)
    scores = out["scores"].cpu().numpy().astype(np.float64)
    labels = out["labels"].cpu().numpy()
    keep = (labels == COCO_PERSON) & (scores >= score_thresh)
    order = np.argsort(-scores[keep], kind="stable")
    found = []
    for (x1, y1, x2, y2), score in zip(boxes[keep][order], scores[keep][order]):
        found.append(Detection(bbox=(float(x1), float(y1), float(x2 - x1), float(y2 - y1)), score=float(score)))
    return found
