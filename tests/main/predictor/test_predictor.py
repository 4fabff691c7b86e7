"""The predictor (main/predictor/predictor.py): batches, the mirrored left hand, the param mesh placed by its
camera translation, the root depth from the box or given.

One body and one hand Predictor for the module, built from the session's random-weight networks (kept in memory,
never written); the crops of each kind run in one batch shared by the tests.  With its initial BatchNorm statistics
the random network's activations vanish (about 1e-12 after the deconvolutions) and its outputs do not depend on the
image; the hand network's statistics are therefore first set from two noise images, so that a crop that is not the
exact mirror (or a result taken from the wrong row of a batch) shows.  Expected values come from their own
arithmetic: the processed box from the raw box, the depth from the box area, pixel -> camera by hand, the layers of
the session's SMPL/MANO fixtures.  The last test runs the hand Predictor inside the frame pipeline (smoothing on),
here where its network is built anyway (the pipeline's own tests use a stand-in).
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from common.detector import KeypointDetection
from common.utils.media import Frame
from common.utils.stopwatch import StageTimes
from main.predictor.camera import Camera
from main.predictor.errors import DemoError
from main.predictor.finders import HandFinder, keypoints_from_table
from main.predictor.pipeline import FramePipeline, SmoothOptions, TrackOptions
from main.predictor.predictor import Crop, Predictor
from main.predictor.results import rebuild_param_mesh

WIDTH, HEIGHT = 160, 120
FOCAL = (480.0, 520.0)
PRINCPT = (70.0, 55.0)  # away from the centre, so that the mirror test needs the mirrored principal point
MIRROR_X = np.array([-1.0, 1.0, 1.0])
FIELDS = ("joints_img", "joints_cam", "mesh_lixel_cam", "pose", "shape", "trans", "mesh_param_cam")


def _image(seed: int) -> np.ndarray:
    """(HEIGHT, WIDTH, 3) uint8: smooth blobs plus noise, asymmetric, so a mirrored crop looks different."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    blobs = sum(np.exp(-((xx - rng.uniform(0, WIDTH)) ** 2 + (yy - rng.uniform(0, HEIGHT)) ** 2) / 300.0)[..., None]
                * rng.uniform(60, 200, 3) for _ in range(6))
    return np.clip(blobs + rng.normal(0, 20, (HEIGHT, WIDTH, 3)), 0, 255).astype(np.uint8)


def _processed(box, aspect: float = 1.0) -> np.ndarray:
    """The box the network sees, by the original's rule: corners x .. x + w - 1, widened to the aspect, x1.25."""
    x, y, w, h = box
    bw, bh = w - 1.0, h - 1.0
    cx, cy = x + bw / 2.0, y + bh / 2.0
    bw, bh = max(bw, aspect * bh), max(bh, bw / aspect)
    return np.array([cx - 0.625 * bw, cy - 0.625 * bh, 1.25 * bw, 1.25 * bh])


def _to_camera(uv: np.ndarray, z: np.ndarray, focal, princpt) -> np.ndarray:
    return np.stack([(uv[:, 0] - princpt[0]) / focal[0] * z, (uv[:, 1] - princpt[1]) / focal[1] * z, z], axis=1)


# A left hand at HAND_BOX and, in the mirrored image, the right hand at the mirrored box.  process_bbox treats a box
# as the pixels x .. x + w - 1 (centre x + (w - 1) / 2), and the crop of a left hand flips that centre c to W - 1 - c,
# so the box whose processed centre is W - 1 - c starts at W - x - w.  The mirrored image's principal point is
# (W - 1 - cx, cy): camera x then changes sign exactly.
HAND_BOX = np.array([40.25, 30.5, 44.0, 38.0])
MIRRORED_HAND_BOX = np.array([WIDTH - HAND_BOX[0] - HAND_BOX[2], *HAND_BOX[1:]])
MIRRORED_PRINCPT = (WIDTH - 1 - PRINCPT[0], PRINCPT[1])
BODY_BOX = np.array([50.5, 8.25, 52.0, 100.0])


def _input_sensitive(network: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``network`` whose BatchNorm statistics are those of two noise images (one train-mode forward)."""
    network = copy.deepcopy(network)
    for module in network.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # the plain mean over the batch
    noise = torch.as_tensor(np.random.default_rng(5).normal(size=(2, 3, 256, 256)), dtype=torch.float32)
    with torch.no_grad():
        network.train()({"img": noise}, {}, {}, "test")
    return network


def _in_memory_snapshot(network: torch.nn.Module) -> dict:
    """The network's weights as a snapshot's contents, without copying them (the Predictor copies them into its
    own network and leaves these alone)."""
    return {"epoch": 1, "network": {f"module.{k}": v for k, v in network.state_dict().items()}}


@pytest.fixture(scope="module")
def hand(hand_net_original, model_dir):
    """(predictor, crops, predictions, network calls of that batch)."""
    predictor = Predictor("hand_in_memory.pth.tar", {"human_model_dir": str(model_dir)}, "param", "cpu",
                          checkpoint=_in_memory_snapshot(_input_sensitive(hand_net_original)), times=StageTimes())
    image = _image(0)
    crops = [Crop(image, HAND_BOX, FOCAL, PRINCPT, is_right=False, score=0.75, track_id=4),
             Crop(np.ascontiguousarray(image[:, ::-1]), MIRRORED_HAND_BOX, FOCAL, MIRRORED_PRINCPT, is_right=True),
             Crop(image, np.array([90.5, 50.25, 30.0, 36.0]), FOCAL, PRINCPT, is_right=True, root_depth=0.7)]
    predictions = predictor.predict(crops)
    return predictor, crops, predictions, predictor.times.calls["network"]


@pytest.fixture(scope="module")
def body(body_net_original, model_dir):
    """(predictor, crops, predictions): the same box with the depth estimated, then given (5 m)."""
    predictor = Predictor("body_in_memory.pth.tar", {"human_model_dir": str(model_dir)}, "param", "cpu",
                          checkpoint=_in_memory_snapshot(body_net_original))
    image = _image(1)
    crops = [Crop(image, BODY_BOX, FOCAL, PRINCPT, score=0.5, track_id=2),
             Crop(image, BODY_BOX, FOCAL, PRINCPT, root_depth=5.0)]
    return predictor, crops, predictor.predict(crops)


def test_kinds_faces_and_one_batch(hand, body, mano, smpl):
    hand_predictor, crops, predictions, calls = hand
    assert (hand_predictor.kind, body[0].kind) == ("hand", "body")
    np.testing.assert_array_equal(hand_predictor.faces, mano.face)
    np.testing.assert_array_equal(body[0].faces, smpl.face)
    assert calls == 1 and len(predictions) == len(crops)  # three crops, test_batch_size 16: one forward
    for crop, pred in zip(crops, predictions):
        r = pred.result
        assert r.kind == "hand" and r.is_right is crop.is_right and r.track_id == crop.track_id
        assert r.score == crop.score and np.array_equal(r.bbox, crop.bbox)
        assert r.joints_img.shape == (21, 2) and r.joints_cam.shape == (21, 3)
        assert r.mesh_lixel_cam.shape == r.mesh_param_cam.shape == (778, 3)
        assert r.pose.shape == (48,) and r.shape.shape == (10,) and r.trans.shape == (3,)
    assert [p.result.is_right for p in body[2]] == [None, None]


def test_batches_do_not_change_results(hand, monkeypatch):
    """The batch of three against test_batch_size 2: [left, right], then the third crop alone."""
    predictor, crops, together, _ = hand
    monkeypatch.setattr(predictor, "cfg", predictor.cfg.replace(test_batch_size=2))
    before = predictor.times.calls["network"]
    split = predictor.predict(crops)
    assert predictor.times.calls["network"] - before == 2
    for a, b in zip(together, split):
        np.testing.assert_allclose(a.bbox_proc, b.bbox_proc, rtol=0, atol=1e-9)
        assert a.result.root_depth == pytest.approx(b.result.root_depth, abs=1e-9)
        for name in FIELDS:
            np.testing.assert_allclose(getattr(a.result, name), getattr(b.result, name), rtol=1e-4, atol=1e-4,
                                       err_msg=name)


def test_left_hand_is_the_mirror_of_the_right_hand_in_the_mirrored_image(hand):
    _, _, (left, right, _), _ = hand
    np.testing.assert_allclose(left.bbox_proc, _processed(HAND_BOX))
    np.testing.assert_allclose(right.bbox_proc, _processed(MIRRORED_HAND_BOX))
    assert left.result.root_depth == pytest.approx(right.result.root_depth)
    got, want = left.result, right.result
    np.testing.assert_allclose(got.joints_img, np.stack([WIDTH - 1 - want.joints_img[:, 0], want.joints_img[:, 1]],
                                                        axis=1), atol=1e-3)  # pixels
    np.testing.assert_allclose(left.mesh.lixel_img[:, 0], WIDTH - 1 - right.mesh.lixel_img[:, 0], atol=1e-3)
    for name in ("joints_cam", "mesh_lixel_cam", "mesh_param_cam", "trans"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name) * MIRROR_X, atol=1e-5, err_msg=name)
    # saved as the right-hand parameters of the mirror image
    np.testing.assert_allclose(got.pose, want.pose, atol=1e-5)
    np.testing.assert_allclose(got.shape, want.shape, atol=1e-5)
    # is_right matters: the right-hand layer mesh at the same place is another mesh
    unmirrored = hand[0].param_mesh(got.pose, got.shape, got.trans, True)
    assert np.abs(unmirrored - got.mesh_param_cam).max() > 1e-2


def test_outputs_depend_on_the_image(hand):
    """The joints relative to the processed box differ between crops of different pictures (else the tests of this
    module could not tell one crop's outputs from another's)."""
    in_box = [(p.result.joints_img - p.bbox_proc[:2]) / p.bbox_proc[2:] for p in hand[2]]
    assert np.abs(in_box[1] - in_box[2]).max() > 0.02


def test_param_mesh_is_the_layer_mesh_moved_by_the_camera_translation(hand, body, mano, smpl):
    """Body, right hand and left hand: param_mesh(pose, shape, trans, is_right) and the smplx layers of the session's
    model files rebuild the predicted param mesh; its root (the regressor's root row) sits on the lixel root."""
    hand_predictor, _, (left, _, right), _ = hand
    body_predictor, _, (person, _) = body
    for predictor, human, pred in ((hand_predictor, mano, left), (hand_predictor, mano, right),
                                   (body_predictor, smpl, person)):
        r = pred.result
        rebuilt = predictor.param_mesh(r.pose, r.shape, r.trans, r.is_right)
        np.testing.assert_allclose(rebuilt, r.mesh_param_cam, atol=1e-5)  # metres
        layer = human.layer()
        np.testing.assert_allclose(rebuild_param_mesh(layer, r.kind, r.pose, r.shape, r.trans, r.is_right),
                                   r.mesh_param_cam, atol=1e-5)
        root_row = np.asarray(human.joint_regressor[human.root_joint_idx], dtype=np.float64)
        np.testing.assert_allclose(root_row @ r.mesh_param_cam, pred.mesh.root_cam, atol=1e-5)
        root_uv = root_row @ pred.mesh.lixel_img[:, :2]
        np.testing.assert_allclose(pred.mesh.root_cam, _to_camera(root_uv[None], np.array([r.root_depth]),
                                                                  FOCAL, PRINCPT)[0], atol=1e-9)
    np.testing.assert_allclose(hand_predictor.camera_translation(left.result.pose, left.result.shape,
                                                                 left.mesh.root_cam, True), left.result.trans)


def test_root_depth_estimated_from_the_processed_box_or_given(body, hand):
    _, _, (estimated, given) = body
    proc = _processed(BODY_BOX)
    np.testing.assert_allclose(estimated.bbox_proc, proc)
    depth = np.sqrt(FOCAL[0] * FOCAL[1] * 2.0 * 2.0 / (proc[2] * proc[3]))  # 2 m x 2 m body box
    assert estimated.result.root_depth == pytest.approx(depth, rel=1e-12)
    assert estimated.depth_source == "estimated from the box"
    assert given.result.root_depth == 5.0 and given.depth_source == "--root_depth"
    assert hand[2][2].result.root_depth == 0.7
    hand_proc = hand[2][0].bbox_proc
    assert hand[2][0].result.root_depth == pytest.approx(np.sqrt(FOCAL[0] * FOCAL[1] * 0.09 / (hand_proc[2] ** 2)))
    # the same network outputs placed at the two depths: joints_cam from the same pixels and relative depths
    np.testing.assert_allclose(given.result.joints_img, estimated.result.joints_img, atol=1e-3)
    z_rel = estimated.result.joints_cam[:, 2] - depth
    want = _to_camera(given.result.joints_img, z_rel + 5.0, FOCAL, PRINCPT)
    np.testing.assert_allclose(given.result.joints_cam, want, atol=1e-4)
    assert given.mesh.root_cam[2] == pytest.approx(5.0) and estimated.mesh.root_cam[2] == pytest.approx(depth)
    shift = given.mesh.root_cam - estimated.mesh.root_cam  # the param mesh moves with its root, shape unchanged
    np.testing.assert_allclose(given.result.mesh_param_cam, estimated.result.mesh_param_cam + shift, atol=1e-4)


def test_unusable_box_and_wrong_variant_are_clear_errors(hand, model_dir):
    with pytest.raises(DemoError, match=r"box \[500.0, 10.0, 20.0, 20.0\]: degenerate bounding box"):
        hand[0].process_box(np.array([500.0, 10.0, 20.0, 20.0]), WIDTH, HEIGHT)
    # the variant is refused from the snapshot's keys, before any network is built
    ckpt = {"epoch": 1, "network": {"module.mesh_net.conv_x.0.bias": torch.zeros(778),
                                    "module.param_regressor.fc.0.weight": torch.zeros(1024, 63)}}
    with pytest.raises(DemoError, match=r"snapshot is a hand \(MANO\) model but --trainset_3d.*body variant"):
        Predictor("hand.pth.tar", {"human_model_dir": str(model_dir), "trainset_3d": ["Human36M"],
                                   "testset": "PW3D"}, "param", "cpu", checkpoint=ckpt)


def test_in_the_pipeline_smoothed_parameters_rebuild_the_param_mesh(hand, monkeypatch):
    """Two frames of a moving person, right and left hand each, one network call; in the second frame the smoothed
    parameters lag the network's and the param mesh is the layer mesh of the smoothed parameters."""
    predictor = hand[0]
    raw: list = []
    calls: list[int] = []
    predict = predictor.predict

    def recording(crops):
        calls.append(len(crops))
        out = predict(crops)
        raw.extend(copy.deepcopy(p.result) for p in out)
        return out

    monkeypatch.setattr(predictor, "predict", recording)
    keypoints = {}
    for k in range(2):
        points = np.zeros((17, 3))
        points[[8, 10, 7, 9]] = [[60 + 8 * k, 70, 1], [90 + 8 * k, 66, 1], [70 + 8 * k, 70, 1], [40 + 8 * k, 74, 1]]
        keypoints[k] = [KeypointDetection((20.0 + 8 * k, 10.0, 90.0, 100.0), 0.9, points)]
    frames = [Frame(key=k, image=_image(10 + k), time_s=k / 30.0) for k in range(2)]
    pipeline = FramePipeline({"hand": predictor}, HandFinder(keypoints_from_table(keypoints)),
                             lambda frame: Camera(FOCAL, PRINCPT, "--focal"), TrackOptions(enabled=True),
                             SmoothOptions(enabled=True))
    outs = list(pipeline.run(frames))
    assert calls == [4]
    for k, out in enumerate(outs):
        assert [(p.result.track_id, p.result.is_right) for p in out.people] == [(0, True), (0, False)]
        for person, want in zip(out.people, raw[2 * k:2 * k + 2]):  # the network's order: right hand first
            got = person.result
            np.testing.assert_allclose(got.mesh_param_cam, predictor.param_mesh(got.pose, got.shape, got.trans,
                                                                                got.is_right), atol=1e-9)
            change = np.abs(got.mesh_param_cam - want.mesh_param_cam).max()
            assert change < 1e-6 if k == 0 else change > 1e-3, (k, got.is_right, change)  # metres
            assert k == 0 or np.abs(got.pose - want.pose).max() > 1e-4
