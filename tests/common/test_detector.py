"""The torchvision detectors: weight files load strictly into a network that computes what torchvision's own
pretrained build computes, the offline and bad-file messages, and one small-image forward of each model."""
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.models import detection

from common.detector import (
    DETECTORS,
    Detection,
    DetectorSettingError,
    DetectorWeightsError,
    KeypointDetection,
    build_keypoint_detector,
    build_person_detector,
    cached_weights_path,
    detect_keypoints_batch,
    detect_people_batch,
    load_detector_weights,
    weights_url,
)
from common.detector_weights import build_network, detector_spec

# The networks' input side, detections and proposals per image in these tests: the forwards stay fast.
SIZE, PEOPLE, PROPOSALS = 64, 3, 20


def _build_from_file(name: str, path: Path) -> torch.nn.Module:
    options = {"min_size": SIZE, "max_people": PEOPLE, "proposals": PROPOSALS}
    if name == "keypointrcnn_resnet50_fpn":
        return build_keypoint_detector(path, 0.5, **options)
    return build_person_detector(path, 0.5, name=name, **options)


@pytest.fixture(scope="module", params=list(DETECTORS))
def loaded(request, tmp_path_factory):
    """(name, detector built from a file of random weights whose classifier says "person", the file's state)."""
    name = request.param
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        state = build_network(name, 0.5).state_dict()
    state["roi_heads.box_predictor.cls_score.bias"][1] = 20.0
    path = tmp_path_factory.mktemp("detector") / f"{name}.pth"
    torch.save(state, path)
    return name, _build_from_file(name, path), state


def test_weights_file_round_trip_into_torchvisions_pretrained_layout(loaded, monkeypatch):
    """The file loads strictly; the network is torchvision's own build for its COCO_V1 weights (which loads the same
    file strictly): the same modules, FrozenBatchNorm2d with the same eps."""
    name, model, state = loaded
    own = model.state_dict()
    assert own.keys() == state.keys() and all(torch.equal(own[k], state[k]) for k in own)
    assert not model.training and model.transform.min_size == (SIZE,)
    assert model.roi_heads.detections_per_img == PEOPLE and model.rpn.post_nms_top_n() == PROPOSALS
    enum = getattr(detection, detector_spec(name).weights)
    monkeypatch.setattr(enum, "get_state_dict", lambda self, *args, **kwargs: state)
    reference = getattr(detection, name)(weights=enum.COCO_V1)
    assert [type(m) for m in model.modules()] == [type(m) for m in reference.modules()]
    assert [getattr(m, "eps", None) for m in model.modules()] == [getattr(m, "eps", None) for m in reference.modules()]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("name, detect, people", [("fasterrcnn_mobilenet_v3_large_320_fpn", detect_people_batch, 3),
                                                  ("keypointrcnn_resnet50_fpn", detect_keypoints_batch, 1)])
def test_one_small_forward_of_each_kind(name, detect, people):
    """Two small images in one forward: the detections are the network's own outputs (captured from the same
    forward), as (x, y, w, h) boxes, best first, and for Keypoint R-CNN (17, 3) keypoints with [0, 1] scores.
    (Keypoint R-CNN's keypoint head costs 3.7 GMAC per person: one each.)"""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_network(name, 0.5, min_size=SIZE, max_people=people, proposals=PROPOSALS).eval()
    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.bias[1] = 20.0  # every proposal is a person
    raw = []
    model.register_forward_hook(lambda module, args, out: raw.extend(out))
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8), rng.integers(0, 256, (48, SIZE, 3), np.uint8)]
    found = detect(model, imgs, 0.5)
    assert len(found) == len(raw) == 2
    for img, persons, out in zip(imgs, found, raw):
        assert len(persons) == len(out["boxes"]) == people
        scores = [p.score for p in persons]
        assert scores == sorted(scores, reverse=True) and min(scores) >= 0.5
        order = np.argsort(-out["scores"].numpy(), kind="stable")
        for person, k in zip(persons, order):
            x1, y1, x2, y2 = out["boxes"][k].tolist()
            assert person.bbox == pytest.approx((x1, y1, x2 - x1, y2 - y1), abs=1e-4)
            assert person.bbox[0] >= 0 and person.bbox[0] + person.bbox[2] <= img.shape[1] + 1e-3
            assert person.bbox[1] >= 0 and person.bbox[1] + person.bbox[3] <= img.shape[0] + 1e-3
            if isinstance(person, KeypointDetection):
                assert person.keypoints.shape == (17, 3) and person.keypoints.dtype == np.float64
                np.testing.assert_allclose(person.keypoints[:, :2], out["keypoints"][k, :, :2], atol=1e-4)
                np.testing.assert_allclose(person.keypoints[:, 2], torch.sigmoid(out["keypoints_scores"][k]),
                                           atol=1e-6)
            else:
                assert isinstance(person, Detection) and isinstance(person.score, float)
    assert detect(model, [], 0.5) == []


def test_bad_files_are_named_with_their_keys(tmp_path):
    name = "fasterrcnn_mobilenet_v3_large_320_fpn"  # the smallest file
    model = build_network(name, 0.5)
    state = model.state_dict()
    counters = {k.replace("running_mean", "num_batches_tracked"): torch.tensor(7) for k in state
                if k.endswith("running_mean")}
    assert counters
    torch.save({**state, **counters}, tmp_path / "counters.pth")
    load_detector_weights(model, tmp_path / "counters.pth", name)  # BatchNorm counters of a trained file are ignored
    broken = dict(state)
    broken.pop("roi_heads.box_predictor.cls_score.bias")
    broken["extra.weight"] = torch.zeros(2)
    broken["roi_heads.box_predictor.bbox_pred.bias"] = torch.zeros(3)
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(DetectorWeightsError, match=r"broken\.pth does not hold Faster R-CNN MobileNetV3-Large FPN "
                       r"\(COCO, 91 classes\) weights: missing keys \['roi_heads.box_predictor.cls_score.bias'\] "
                       r"\(1\), unexpected keys \['extra.weight'\] \(1\), shape mismatches "
                       r"\['roi_heads.box_predictor.bbox_pred.bias'\] \(1\); use the file from https://"):
        load_detector_weights(model, tmp_path / "broken.pth", name)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(DetectorWeightsError, match=r"junk\.pth: cannot be read .*weights_only=True"):
        build_person_detector(tmp_path / "junk.pth", name=name)
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(DetectorWeightsError, match=r"list\.pth: expected a state dict"):
        load_detector_weights(model, tmp_path / "list.pth", name)


@pytest.mark.parametrize("build, name, flag, alternative", [
    (lambda **kw: build_person_detector(**kw), "fasterrcnn_resnet50_fpn", "--detector_weights", "--bbox_json FILE"),
    (lambda **kw: build_person_detector(name="fasterrcnn_mobilenet_v3_large_320_fpn", **kw),
     "fasterrcnn_mobilenet_v3_large_320_fpn", "--detector_weights", "--bbox_json FILE"),
    (lambda **kw: build_keypoint_detector(**kw), "keypointrcnn_resnet50_fpn", "--keypoint_weights",
     "--keypoints_json FILE"),
])
def test_offline_without_the_file_says_where_to_put_it(build, name, flag, alternative, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr(torch.hub, "urlopen", offline)
    path = cached_weights_path(name)
    assert path.parent == tmp_path / "torch_home" / "hub" / "checkpoints"
    assert path.name == weights_url(name).rsplit("/", 1)[-1] and path.name.startswith(name)
    for download, reason in ((True, "the download failed (URLError: <urlopen error network unreachable>)"),
                             (False, f"{path} does not exist.")):
        with pytest.raises(DetectorWeightsError) as err:
            build(download=download)
        message = str(err.value)
        for part in (reason, f"Download {weights_url(name)} into {path.parent}/", f"keep the file name {path.name}",
                     f"pass the file with {flag} FILE", alternative):
            assert part in message
        assert not path.exists()


def test_unknown_or_wrong_kind_of_detector():
    with pytest.raises(DetectorSettingError, match="unknown detector 'yolo'; choose one of fasterrcnn_resnet50_fpn"):
        build_person_detector(name="yolo")
    with pytest.raises(DetectorSettingError, match="keypointrcnn_resnet50_fpn is not a person detector"):
        build_person_detector(name="keypointrcnn_resnet50_fpn")
    with pytest.raises(DetectorSettingError, match="detector input size 8"):
        build_network("fasterrcnn_mobilenet_v3_large_320_fpn", 0.5, min_size=8)
    with pytest.raises(DetectorSettingError, match="max_people 5 and proposals 4: need 1 <= max_people <= proposals"):
        build_network("fasterrcnn_mobilenet_v3_large_320_fpn", 0.5, max_people=5, proposals=4)
