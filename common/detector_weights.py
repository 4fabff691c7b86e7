"""The torchvision detectors the demo can use, and their COCO_V1 weights: where they live, how they load.

Every detector is a row of :data:`DETECTORS`: its torchvision builder, its weights enum (``COCO_V1``), the flag that
gives the weights file instead, and the offline alternative.  The weights are read from the torch hub cache
(``$TORCH_HOME/hub/checkpoints/``, by default ``~/.cache/torch/hub/checkpoints/``) and downloaded there through
torchvision's weights API when missing and online; or from a file given explicitly.  Offline without the file,
:class:`DetectorWeightsError` says where to put it.  Files are loaded with ``weights_only=True`` and strictly (every
key and shape must match).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import torch
from torch import nn

from common.errors import UserError

__all__ = ["DEFAULT_PERSON_DETECTOR", "DETECTORS", "DetectorSpec", "DetectorWeightsError", "DetectorSettingError",
           "build_network", "cached_weights_path", "detector_spec", "load_detector_weights",
           "missing_weights_message", "resolve_weights_file", "weights_url"]


class DetectorWeightsError(UserError, RuntimeError):
    """The detector weights are missing, cannot be downloaded, or do not fit the network."""


class DetectorSettingError(UserError, ValueError):
    """An unknown detector name (not a row of :data:`DETECTORS`) or an unusable size or count."""


_PERSON_FLAG = "--detector_weights"
_PERSON_OFFLINE = "skip the detector by giving the boxes with --bbox x y w h (one per person) or --bbox_json FILE"


@dataclass(frozen=True)
class DetectorSpec:
    """One torchvision detector: ``builder`` and ``weights`` name a function and an enum class of
    ``torchvision.models.detection``; ``build_kwargs`` are the class and keypoint counts of the COCO_V1 weights."""

    builder: str
    weights: str
    title: str  # in messages: "torchvision <title>, COCO_V1"
    role: str  # "person detector", "keypoint detector": "the <role>'s weights"
    content: str  # what a matching file holds, for the key-mismatch message
    flag: str
    offline: str
    build_kwargs: tuple[tuple[str, int], ...]
    # torchvision builds its pretrained detectors with FrozenBatchNorm2d (no num_batches_tracked buffer) and, for the
    # ResNet-50 COCO_V1 files, sets its eps to 0; built without weights it uses BatchNorm2d (eps 1e-3 in MobileNet).
    # build_network reproduces the pretrained build, so the files load strictly and compute what torchvision's do.
    frozen_bn_eps: float


DEFAULT_PERSON_DETECTOR = "fasterrcnn_resnet50_fpn"
_COCO_91 = (("num_classes", 91),)

DETECTORS: MappingProxyType[str, DetectorSpec] = MappingProxyType({
    "fasterrcnn_resnet50_fpn": DetectorSpec(
        "fasterrcnn_resnet50_fpn", "FasterRCNN_ResNet50_FPN_Weights", "Faster R-CNN ResNet-50 FPN",
        "person detector", "Faster R-CNN ResNet-50 FPN (COCO, 91 classes)", _PERSON_FLAG, _PERSON_OFFLINE,
        _COCO_91, 0.0),
    "fasterrcnn_mobilenet_v3_large_320_fpn": DetectorSpec(
        "fasterrcnn_mobilenet_v3_large_320_fpn", "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights",
        "Faster R-CNN MobileNetV3-Large 320 FPN", "person detector",
        "Faster R-CNN MobileNetV3-Large FPN (COCO, 91 classes)", _PERSON_FLAG, _PERSON_OFFLINE, _COCO_91, 1e-5),
    "fasterrcnn_mobilenet_v3_large_fpn": DetectorSpec(
        "fasterrcnn_mobilenet_v3_large_fpn", "FasterRCNN_MobileNet_V3_Large_FPN_Weights",
        "Faster R-CNN MobileNetV3-Large FPN", "person detector",
        "Faster R-CNN MobileNetV3-Large FPN (COCO, 91 classes)", _PERSON_FLAG, _PERSON_OFFLINE, _COCO_91, 1e-5),
    "keypointrcnn_resnet50_fpn": DetectorSpec(
        "keypointrcnn_resnet50_fpn", "KeypointRCNN_ResNet50_FPN_Weights", "Keypoint R-CNN ResNet-50 FPN",
        "keypoint detector", "Keypoint R-CNN ResNet-50 FPN (COCO person keypoints, 2 classes, 17 keypoints)",
        "--keypoint_weights",
        "skip the detector by giving the body keypoints with --keypoints_json FILE (COCO keypoint results) or the "
        "hand boxes with --bbox x y w h or --bbox_json FILE",
        (("num_classes", 2), ("num_keypoints", 17)), 0.0),
})


def detector_spec(name: str) -> DetectorSpec:
    """The row of :data:`DETECTORS` called ``name``; :class:`DetectorSettingError` lists the names otherwise."""
    if name not in DETECTORS:
        raise DetectorSettingError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
    return DETECTORS[name]


def _weights_enum(name: str):
    from torchvision.models import detection  # noqa: PLC0415

    return getattr(detection, detector_spec(name).weights).COCO_V1


def weights_url(name: str = DEFAULT_PERSON_DETECTOR) -> str:
    """Download URL of the detector's COCO_V1 weights."""
    return _weights_enum(name).url


def cached_weights_path(name: str = DEFAULT_PERSON_DETECTOR) -> Path:
    """Where torchvision's weights API keeps the COCO_V1 file: ``<torch.hub.get_dir()>/checkpoints/<file name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / weights_url(name).rsplit("/", 1)[-1]


def missing_weights_message(name: str, reason: str) -> str:
    """Why the weights of ``name`` are unavailable and every way to fix it: the URL, the cache folder, the flag and
    the offline alternative."""
    spec, path = detector_spec(name), cached_weights_path(name)
    return (
        f"the {spec.role}'s weights (torchvision {spec.title}, COCO_V1) are not available: {reason}. Download "
        f"{weights_url(name)} into {path.parent}/ (keep the file name {path.name}; the folder follows $TORCH_HOME), "
        f"or pass the file with {spec.flag} FILE, or {spec.offline}"
    )


def _freeze_batch_norms(module: nn.Module, eps: float) -> None:
    """Replace every BatchNorm2d below ``module`` by torchvision's FrozenBatchNorm2d with ``eps`` (see
    :attr:`DetectorSpec.frozen_bn_eps`)."""
    from torchvision.ops import FrozenBatchNorm2d  # noqa: PLC0415

    for child_name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, child_name, FrozenBatchNorm2d(child.num_features, eps=eps))
        else:
            _freeze_batch_norms(child, eps)


def build_network(name: str, score_thresh: float, min_size: int | None = None, max_people: int = 100,
                  proposals: int | None = None) -> nn.Module:
    """The detector ``name`` with random weights, laid out as torchvision's pretrained build (train mode).

    ``score_thresh``: the network drops boxes scoring below it.  ``min_size``: the shorter image side, in pixels, the
    network resizes every input to (the longer side scaled alike up to its own limit); None keeps torchvision's
    (800; 320 for the 320 model).  A smaller size is faster and finds fewer small people.  ``max_people``: the most
    detections kept per image (torchvision's 100 by default); Keypoint R-CNN's keypoint head runs on each of them.
    ``proposals``: the region proposals per image that the box head classifies (None: torchvision's 1000; 150 for
    the 320 model); the box head's cost is proportional to it.
    """
    from torchvision.models import detection  # noqa: PLC0415

    spec = detector_spec(name)
    if min_size is not None and min_size < 32:
        raise DetectorSettingError(f"detector input size {min_size}: give the shorter side in pixels, at least 32")
    if max_people < 1 or (proposals is not None and proposals < max_people):
        raise DetectorSettingError(f"the detector's max_people {max_people} and proposals {proposals}: need "
                                   f"1 <= max_people <= proposals")
    options = {"box_detections_per_img": int(max_people), **dict(spec.build_kwargs)}
    if proposals is not None:
        options["rpn_post_nms_top_n_test"] = int(proposals)
    model = getattr(detection, spec.builder)(weights=None, weights_backbone=None, box_score_thresh=float(score_thresh),
                                             **options)
    _freeze_batch_norms(model, spec.frozen_bn_eps)
    if min_size is not None:
        # At test time the transform resizes the shorter side to min_size[-1], unless the longer side would then
        # pass max_size; both are scaled together so the aspect limit stays torchvision's.
        transform = model.transform
        transform.max_size = round(transform.max_size * min_size / transform.min_size[-1])
        transform.min_size = (int(min_size),)
    return model


def load_detector_weights(model: nn.Module, path: str | Path, name: str = DEFAULT_PERSON_DETECTOR) -> None:
    """Load a state dict file of detector ``name`` strictly into ``model``; errors name the file and the keys.

    BatchNorm counters (``num_batches_tracked``) in the file are ignored: the frozen layers have none.
    """
    spec, path = detector_spec(name), Path(path)
    if not path.is_file():
        raise DetectorWeightsError(missing_weights_message(name, f"{path} does not exist"))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise DetectorWeightsError(f"{path}: cannot be read as a PyTorch state dict with weights_only=True "
                                   f"({exc}); download it again from {weights_url(name)}") from exc
    if not isinstance(state, dict):
        raise DetectorWeightsError(f"{path}: expected a state dict (a dict of tensors), got {type(state).__name__}")
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [k for k in own if k in state and tuple(getattr(state[k], "shape", ())) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        raise DetectorWeightsError(
            f"{path} does not hold {spec.content} weights: missing keys "
            f"{missing[:5]}{'...' if len(missing) > 5 else ''} ({len(missing)}), unexpected keys "
            f"{unexpected[:5]}{'...' if len(unexpected) > 5 else ''} ({len(unexpected)}), shape mismatches "
            f"{mismatched[:5]} ({len(mismatched)}); use the file from {weights_url(name)}")
    model.load_state_dict(state, strict=True)


def resolve_weights_file(name: str, weights_file: str | Path | None, download: bool = True) -> Path:
    """The file to load: ``weights_file`` when given, else the hub-cache file, downloaded first through
    torchvision's weights API when missing and ``download`` is true.  :class:`DetectorWeightsError` otherwise."""
    if weights_file is not None:
        return Path(weights_file)
    spec, path = detector_spec(name), cached_weights_path(name)
    if not path.is_file():
        if not download:
            raise DetectorWeightsError(missing_weights_message(name, f"{path} does not exist"))
        print(f"Downloading the {spec.role}'s weights from {weights_url(name)} to {path.parent}/")
        try:
            _weights_enum(name).get_state_dict(progress=True, check_hash=True)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError; a hash mismatch a RuntimeError
            raise DetectorWeightsError(missing_weights_message(
                name, f"{path} does not exist and the download failed ({type(exc).__name__}: {exc})")) from exc
    return path
