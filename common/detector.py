"""Detectors for the demo: torchvision's Faster R-CNN person detectors and Keypoint R-CNN (COCO body keypoints).

The models and their COCO_V1 weights (hub cache or a file, strict ``weights_only`` loading, the offline message) are
in :mod:`common.detector_weights`.  Images are (H, W, 3) RGB arrays, uint8 or float in [0, 255]; boxes come back as
(x, y, w, h) pixels of the input image, keypoints as (x, y) pixels.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from common.detector_weights import (
    DEFAULT_PERSON_DETECTOR,
    DETECTORS,
    DetectorSettingError,
    DetectorWeightsError,
    build_network,
    cached_weights_path,
    detector_spec,
    load_detector_weights,
    resolve_weights_file,
    weights_url,
)

__all__ = ["COCO_PERSON", "DEFAULT_PERSON_DETECTOR", "DETECTORS", "KEYPOINT_DETECTOR", "Detection",
           "DetectorSettingError", "DetectorWeightsError", "KeypointDetection", "build_keypoint_detector",
           "build_person_detector", "cached_weights_path", "detect_keypoints", "detect_keypoints_batch",
           "detect_people", "detect_people_batch", "load_detector_weights", "weights_url"]

COCO_PERSON = 1  # category id of "person" in torchvision's COCO detection labels (and Keypoint R-CNN's only class)
KEYPOINT_DETECTOR = "keypointrcnn_resnet50_fpn"


@dataclass(frozen=True)
class Detection:
    """One detected person: ``bbox`` (x, y, w, h) in pixels of the input image, ``score`` in [0, 1]."""

    bbox: tuple[float, float, float, float]
    score: float


@dataclass(frozen=True, eq=False)
class KeypointDetection:
    """One person with COCO body keypoints: ``bbox`` (x, y, w, h) pixels, ``score`` in [0, 1], ``keypoints`` (17, 3)
    float64: x, y in pixels and a per-keypoint score in [0, 1] (Keypoint R-CNN: the sigmoid of its heat-map logit;
    a --keypoints_json file: its third value as given, e.g. COCO visibility 0/1/2), in COCO keypoint order."""

    bbox: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray


def _network(score_thresh: float) -> nn.Module:
    """The default person detector with random weights (train mode)."""
    return build_network(DEFAULT_PERSON_DETECTOR, score_thresh)


def _build(name: str, weights_file: str | Path | None, score_thresh: float, device: torch.device | str,
           download: bool, min_size: int | None, max_people: int, proposals: int | None) -> nn.Module:
    path = resolve_weights_file(name, weights_file, download)  # first: a missing file is found before the build
    model = build_network(name, score_thresh, min_size, max_people, proposals)
    load_detector_weights(model, path, name)
    return model.eval().to(device)


def build_person_detector(weights_file: str | Path | None = None, score_thresh: float = 0.5,
                          device: torch.device | str = "cpu", download: bool = True, *,
                          name: str = DEFAULT_PERSON_DETECTOR, min_size: int | None = None,
                          max_people: int = 100, proposals: int | None = None) -> nn.Module:
    """Person detector ``name`` (a Faster R-CNN of :data:`DETECTORS`) in eval mode on ``device``, COCO_V1 weights.

    ``weights_file``: a state-dict file to load instead of the cached COCO_V1 file.  Without it the hub-cache file
    is used, downloaded first through torchvision's weights API when missing and ``download`` is true.
    ``score_thresh``: detections scoring below it are dropped by the network itself.  ``min_size`` (the network's
    input size), ``max_people`` (detections per image) and ``proposals`` (region proposals per image): see
    :func:`common.detector_weights.build_network`.
    Raises :class:`DetectorWeightsError` with the URL, the cache folder and the alternatives when no weights load.
    """
    if detector_spec(name).role != "person detector":
        person = [n for n, s in DETECTORS.items() if s.role == "person detector"]
        raise DetectorSettingError(f"{name} is not a person detector; choose one of {', '.join(person)}")
    return _build(name, weights_file, score_thresh, device, download, min_size, max_people, proposals)


def build_keypoint_detector(weights_file: str | Path | None = None, score_thresh: float = 0.5,
                            device: torch.device | str = "cpu", download: bool = True, *,
                            min_size: int | None = None, max_people: int = 100,
                            proposals: int | None = None) -> nn.Module:
    """Keypoint R-CNN (ResNet-50 FPN, COCO_V1 person keypoints) in eval mode on ``device``; the weights as for
    :func:`build_person_detector`, the file flag being ``--keypoint_weights``."""
    return _build(KEYPOINT_DETECTOR, weights_file, score_thresh, device, download, min_size, max_people, proposals)


@torch.no_grad()
def _forward(model: nn.Module, imgs: Sequence[np.ndarray], device: torch.device | str) -> list[dict[str, np.ndarray]]:
    """The network's outputs for several images at once, as float64 / int NumPy arrays on the CPU."""
    tensors = []
    for img in imgs:
        img = np.asarray(img, dtype=np.float32)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {img.shape}")
        tensors.append(torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)) / 255.0).to(device))
    if not tensors:
        return []
    outs = model(tensors)
    return [{k: v.float().cpu().numpy().astype(np.float64) if v.is_floating_point() else v.cpu().numpy()
             for k, v in out.items()} for out in outs]


def _kept(out: dict[str, np.ndarray], score_thresh: float) -> np.ndarray:
    """Indices of the person detections with score >= ``score_thresh``, best score first."""
    keep = np.flatnonzero((out["labels"] == COCO_PERSON) & (out["scores"] >= score_thresh))
    return keep[np.argsort(-out["scores"][keep], kind="stable")]


def _xywh(box: np.ndarray) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return x1, y1, x2 - x1, y2 - y1


def detect_people_batch(model: nn.Module, imgs: Sequence[np.ndarray], score_thresh: float = 0.5,
                        device: torch.device | str = "cpu") -> list[list[Detection]]:
    """Person boxes in each of several images (one forward), per image best score first.

    Keeps the detections of COCO category 1 ("person") with score >= ``score_thresh``; boxes are (x, y, w, h) in
    pixels of their image, inside it (the detector clips them).
    """
    return [[Detection(_xywh(out["boxes"][i]), float(out["scores"][i])) for i in _kept(out, score_thresh)]
            for out in _forward(model, imgs, device)]


def detect_people(model: nn.Module, img: np.ndarray, score_thresh: float = 0.5,
                  device: torch.device | str = "cpu") -> list[Detection]:
    """Person boxes in one (H, W, 3) RGB image, best score first (see :func:`detect_people_batch`)."""
    return detect_people_batch(model, [img], score_thresh, device)[0]


def detect_keypoints_batch(model: nn.Module, imgs: Sequence[np.ndarray], score_thresh: float = 0.5,
                           device: torch.device | str = "cpu") -> list[list[KeypointDetection]]:
    """People and their 17 COCO keypoints in each of several images (one forward), per image best score first.

    Keypoint R-CNN scores each keypoint by the logit of its heat-map peak; it is returned through a sigmoid, in
    [0, 1] (0.5 = logit 0), so that thresholds read alike for the detector and for --keypoints_json files.
    """
    found = []
    for out in _forward(model, imgs, device):
        people = []
        for i in _kept(out, score_thresh):
            keypoints = out["keypoints"][i].copy()
            keypoints[:, 2] = 0.5 + 0.5 * np.tanh(0.5 * out["keypoints_scores"][i])  # the sigmoid, overflow-free
            people.append(KeypointDetection(_xywh(out["boxes"][i]), float(out["scores"][i]), keypoints))
        found.append(people)
    return found


def detect_keypoints(model: nn.Module, img: np.ndarray, score_thresh: float = 0.5,
                     device: torch.device | str = "cpu") -> list[KeypointDetection]:
    """People and their COCO keypoints in one (H, W, 3) RGB image (see :func:`detect_keypoints_batch`)."""
    return detect_keypoints_batch(model, [img], score_thresh, device)[0]
