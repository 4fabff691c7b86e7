"""The demo (main/predictor/, demo/demo.py): the command from demo/, geometry of docs/demo.md#original-steps, depth,
detector, hand variant, output files, and every bad-input error."""
import importlib.util
import json
import subprocess
import sys
import urllib.error
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import main.predictor.predictor as demo_predictor
import main.predictor.run as demo_run
from common.checkpoint import CheckpointError, inspect_checkpoint, save_checkpoint
from common.detector import DetectorWeightsError, _network, cached_weights_path, load_detector_weights
from common.utils.preprocessing import generate_patch_image, load_img, process_bbox
from common.utils.stopwatch import StageTimes
from common.utils.transforms import cam2pixel, voxelize
from common.utils.vis import MeshRenderer, mask_iou
from main.model import I2LMeshNet
from main.predictor.errors import DemoError
from main.predictor.finders import DetectorFinder, FixedFinder
from main.predictor.inputs import open_input
from main.predictor.options import build_parser, input_kind
from main.predictor.outputs import PersonMesh, make_output_files, map_person_outputs
from main.predictor.people import DEMO_DIR, estimate_root_depth, make_finder
from main.predictor.run import main, run_demo

SIX = ("output_mesh_lixel.jpg", "rendered_mesh_lixel.jpg", "output_mesh_lixel.obj",
       "output_mesh_param.jpg", "rendered_mesh_param.jpg", "output_mesh_param.obj")
RESULTS = ("results.json", "results.npz")  # beside the six files of the original (docs/results.md)


def _make_input_module():
    spec = importlib.util.spec_from_file_location("demo_make_input", DEMO_DIR.parent / "tools" / "make_demo_input.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(sys.modules[spec.name])
    return module


# body_snapshot: the session's random body snapshot (tests/conftest.py)


@pytest.fixture(scope="module")
def tiny_snapshots(tmp_path_factory) -> dict[str, Path]:
    """Small files that look like snapshots to the demo's checks (the network is never built from them)."""
    folder = tmp_path_factory.mktemp("tiny")
    mesh_key = {"module.mesh_net.conv_x.0.bias": torch.zeros(6890)}
    reg_key = {"module.param_regressor.fc.0.weight": torch.zeros(1024, 87)}
    files = {"body": {"epoch": 1, "network": {**mesh_key, **reg_key}, "optimizer": {}},
             "no_param": {"epoch": 1, "network": dict(mesh_key), "optimizer": {}},
             "lixel": {"epoch": 1, "stage": "lixel", "network": {**mesh_key, **reg_key}, "optimizer": {}},
             "hand": {"epoch": 1, "network": {"module.mesh_net.conv_x.0.bias": torch.zeros(778), **reg_key}}}
    out = {}
    for name, payload in files.items():
        out[name] = folder / f"{name}.pth.tar"
        torch.save(payload, out[name])
    return out


@pytest.fixture(scope="module")
def example(model_dir):
    return _make_input_module().render_example(model_dir)


def _decode(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, path
    return img


def _obj_counts(path: Path) -> tuple[int, int]:
    lines = path.read_text().splitlines()
    return sum(ln.startswith("v ") for ln in lines), sum(ln.startswith("f ") for ln in lines)


# ----- the command and the example -------------------------------------------------------------------------------

def test_example_image_is_small_and_matches_its_generator(example):
    data = (DEMO_DIR / "input.jpg").read_bytes()
    assert len(data) < 100_000
    shipped = load_img(DEMO_DIR / "input.jpg")
    assert shipped.shape[:2] == example.image.shape[:2] == (392, 640)
    assert np.abs(shipped - example.image.astype(np.float32)).mean() < 3.0  # JPEG of the same rendering
    boxes = json.loads((DEMO_DIR / "input_bbox.json").read_text())
    np.testing.assert_allclose(boxes[0]["bbox"], example.bbox, atol=0.01)
    assert (DEMO_DIR / "README.md").read_text().lower().count("licen") >= 1


@pytest.mark.slow
def test_command_from_demo_dir_writes_all_outputs(body_snapshot, model_dir, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "demo.py", "--gpu", "0", "--stage", "param", "--model_path", str(body_snapshot),
           "--human_model_dir", str(model_dir), "--bbox_json", "input_bbox.json", "--out_dir", str(out),
           "--side_view"]
    proc = subprocess.run(cmd, cwd=DEMO_DIR, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if not torch.cuda.is_available():
        assert "CUDA is not available: running on the CPU" in proc.stdout
    assert "Rendered with: " in proc.stdout and f"Load checkpoint from {body_snapshot}" in proc.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(SIX + RESULTS + ("rendered_mesh_lixel_side.jpg", "rendered_mesh_param_side.jpg"))
    for stage in ("lixel", "param"):
        assert _obj_counts(out / f"output_mesh_{stage}.obj") == (6890, 13776)
    source = _decode(DEMO_DIR / "input.jpg").astype(int)
    for name in ("output_mesh_lixel.jpg", "rendered_mesh_lixel.jpg", "output_mesh_param.jpg"):
        img = _decode(out / name).astype(int)
        assert img.shape == source.shape
        # the floor corner (RGB ~ (150, 128, 104)) keeps its colours: written as BGR, not swapped
        # (docs/quirks.md#q-demo-red-blue-swap)
        assert np.abs(img[-20:, :20] - source[-20:, :20]).mean() < 4


def test_hand_snapshot_runs_the_hand_demo_into_the_working_directory(mano, model_dir, tmp_path, monkeypatch):
    torch.manual_seed(1)
    snapshot = tmp_path / "snapshot_30.pth.tar"
    save_checkpoint(snapshot, I2LMeshNet(mano, stage="param"), None, 30)
    monkeypatch.chdir(tmp_path)
    written = run_demo(["--model_path", str(snapshot), "--human_model_dir", str(model_dir), "--bbox", "250", "150",
                        "60", "60", "--renderer", "numpy"])
    assert sorted(written) == sorted(SIX + RESULTS)
    assert all(p.parent.resolve() == tmp_path.resolve() and p.is_file() for p in written.values())
    depth = 1500.0 * 0.3 / (59 * 1.25)  # hand box 0.3 m; processed box side (60 - 1) * 1.25 px
    for stage in ("lixel", "param"):
        assert _obj_counts(written[f"output_mesh_{stage}.obj"]) == (778, 1538)
    lixel = np.array([ln.split()[1:] for ln in written["output_mesh_lixel.obj"].read_text().splitlines()
                      if ln.startswith("v ")], dtype=float)
    param = np.array([ln.split()[1:] for ln in written["output_mesh_param.obj"].read_text().splitlines()
                      if ln.startswith("v ")], dtype=float)
    assert np.all(np.abs(lixel[:, 2] - depth) <= 0.15 + 1e-6)  # within the 0.3 m cube around the root
    assert np.ptp(param, axis=0).max() < 1.0  # MANO millimetres converted to metres


def _obj_vertices(path: Path) -> np.ndarray:
    return np.array([ln.split()[1:] for ln in path.read_text().splitlines() if ln.startswith("v ")], dtype=float)


def test_exact_runs_the_reference_network_unfolded(mano, model_dir, tmp_path, monkeypatch):
    """--exact: the original's operation order with BatchNorm unfolded (no test-only folding), the same meshes to
    float rounding; --amp is refused with it."""
    from main.reference import ReferenceI2LMeshNet

    torch.manual_seed(1)
    snapshot = tmp_path / "snapshot_30.pth.tar"
    save_checkpoint(snapshot, I2LMeshNet(mano, stage="param"), None, 30)
    prepared, built = [], []
    real_prepare, real_build = demo_predictor.prepare_inference, demo_predictor.build_model_from_config
    monkeypatch.setattr(demo_predictor, "prepare_inference", lambda m, amp: prepared.append(m) or real_prepare(m, amp))
    monkeypatch.setattr(demo_predictor, "build_model_from_config",
                        lambda *a: built.append(real_build(*a)) or built[-1])
    flags = ["--model_path", str(snapshot), "--human_model_dir", str(model_dir), "--bbox", "250", "150", "60", "60",
             "--renderer", "numpy"]
    fast = run_demo(flags + ["--out_dir", str(tmp_path / "fast")])
    exact = run_demo(flags + ["--out_dir", str(tmp_path / "exact"), "--exact"])
    assert [type(m) for m in built] == [I2LMeshNet, ReferenceI2LMeshNet] and prepared == built[:1]
    for stage in ("lixel", "param"):
        a, b = (_obj_vertices(w[f"output_mesh_{stage}.obj"]) for w in (fast, exact))
        assert np.abs(a - b).max() < 1e-4, stage  # metres
    with pytest.raises(DemoError, match="--exact with --amp bf16"):
        run_demo(flags + ["--out_dir", str(tmp_path / "refused"), "--exact", "--amp", "bf16"])
    assert not (tmp_path / "refused").exists() or not any((tmp_path / "refused").iterdir())


# ----- geometry (docs/demo.md#original-steps) ---------------------------------------------------------------------

def test_output_mapping_puts_the_ground_truth_mesh_back_on_its_silhouette(example, smpl):
    focal, princpt = example.focal, example.princpt
    proc = process_bbox(example.bbox, 640, 392)
    _, img2bb, bb2img = generate_patch_image(example.image.astype(np.float32), proc, 1.0, 0.0, False, (256, 256))
    root_weights = smpl.joint_regressor[0]
    root = root_weights @ example.verts_cam
    mesh_hm = voxelize(cam2pixel(example.verts_cam, focal, princpt), root[2], img2bb, 2.0)
    assert mesh_hm.min() > 0 and mesh_hm.max() < 64
    out = map_person_outputs(mesh_hm, bb2img, root[2], focal, princpt, root_weights, 2.0,
                             mesh_cam_rel=example.verts_cam - root)
    np.testing.assert_allclose(out.lixel_cam, example.verts_cam, atol=2e-3)
    np.testing.assert_allclose(out.param_cam, example.verts_cam, atol=5e-3)
    np.testing.assert_allclose(out.lixel_img[:, :2], cam2pixel(example.verts_cam, focal, princpt)[:, :2], atol=0.05)
    estimated = estimate_root_depth(proc, focal, False)
    assert abs(estimated - root[2]) / root[2] < 0.25  # RootNet-style guess without its correction
    far = map_person_outputs(mesh_hm, bb2img, estimated, focal, princpt, root_weights, 2.0)
    background = np.zeros_like(example.image)
    with MeshRenderer("auto") as renderer:
        for verts in (out.lixel_cam, out.param_cam, far.lixel_cam):
            mask = renderer.render([(verts, smpl.face)], focal, princpt, background).mask
            assert mask_iou(mask, example.mask) >= 0.9


class NetworkBuilt(Exception):
    """Raised by a stand-in Predictor: the run got past every check made before the networks are built."""


def test_root_depth_from_a_known_box(tiny_snapshots, tmp_path, monkeypatch):
    """The depth from the processed box (RootNet's rule without its correction), or --root_depth per --bbox (one
    value for all boxes, or one each), given to the boxes before any network is built (the depth placed in the
    outputs: test_predictor.py; carried by the pipeline: test_pipeline.py)."""
    assert estimate_root_depth([0, 0, 250, 250], (1500, 1500), False) == pytest.approx(12.0)
    assert estimate_root_depth([0, 0, 250, 250], (1500, 1500), True) == pytest.approx(1.8)
    assert estimate_root_depth([0, 0, 100, 400], (1000, 4000), False) == pytest.approx(2 * 2000 / 200)
    kept: list[list] = []

    class Recording(FixedFinder):
        def __init__(self, candidates):
            kept.append(list(candidates))
            super().__init__(candidates)

    def no_network(*args, **kwargs):
        raise NetworkBuilt

    monkeypatch.setattr(demo_run, "FixedFinder", Recording)
    monkeypatch.setattr(demo_run, "Predictor", no_network)
    boxes = ["--bbox", "100", "50", "80", "200", "--bbox", "10", "10", "30", "30"]
    for depths, want in ((["7.5", "3"], [7.5, 3.0]), (["4"], [4.0, 4.0]), ([], [None, None])):
        with pytest.raises(NetworkBuilt):
            run_demo(["--model_path", str(tiny_snapshots["body"]), "--out_dir", str(tmp_path / "out"), *boxes,
                      *(["--root_depth", *depths] if depths else [])])
        assert [getattr(c, "root_depth", None) for c in kept[-1]] == want
        assert [c.bbox.tolist() for c in kept[-1]] == [[100, 50, 80, 200], [10, 10, 30, 30]]
    assert list((tmp_path / "out").iterdir()) == []


def test_several_people_get_one_obj_each_and_one_combined_picture(example, smpl):
    meshes = []
    for shift in (0.0, 0.4):
        verts = example.verts_cam + [shift, 0.0, 1.5 * shift]
        px = cam2pixel(verts, example.focal, example.princpt)
        meshes.append(PersonMesh(lixel_img=px, lixel_cam=verts, root_cam=verts.mean(0), param_cam=verts))
    files = make_output_files(example.image, meshes, smpl.face, example.focal, example.princpt,
                              ("lixel", "param"), MeshRenderer("numpy"))
    expected = {f"{kind}_mesh_{stage}.jpg" for kind in ("output", "rendered") for stage in ("lixel", "param")}
    expected |= {f"output_mesh_{stage}_person{k}.obj" for stage in ("lixel", "param") for k in (0, 1)}
    assert set(files) == expected
    assert files["output_mesh_param_person1.obj"] != files["output_mesh_param_person0.obj"]


# ----- checkpoint inspection -------------------------------------------------------------------------------------

def test_inspect_checkpoint_reads_variant_and_stage(tiny_snapshots, body_snapshot):
    loaded = {k: torch.load(p, weights_only=True) for k, p in tiny_snapshots.items()}
    assert not inspect_checkpoint(loaded["body"], "x").is_hand and inspect_checkpoint(loaded["hand"], "x").is_hand
    assert inspect_checkpoint(loaded["body"], "x").stage is None
    assert inspect_checkpoint(loaded["lixel"], "x").stage == "lixel"
    assert not inspect_checkpoint(loaded["no_param"], "x").has_param_regressor
    full = torch.load(body_snapshot, weights_only=True)
    info = inspect_checkpoint(full, body_snapshot)
    assert (info.is_hand, info.resnet_type, info.has_param_regressor) == (False, 50, True)
    reg_params = [k for k in full["network"] if ".param_regressor." in k and "running" not in k
                  and "num_batches" not in k]
    for count, stage in ((len(reg_params), "param"), (200, "lixel")):
        full["optimizer"] = {"state": {}, "param_groups": [{"lr": 1e-4, "params": list(range(count))}]}
        assert inspect_checkpoint(full, body_snapshot).stage == stage
    with pytest.raises(CheckpointError, match="not an I2L-MeshNet body or hand snapshot"):
        inspect_checkpoint({"network": {"module.mesh_net.conv_x.0.bias": torch.zeros(5)}}, "odd.pth.tar")


# ----- detector --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def detector_file(tmp_path_factory) -> Path:
    """Randomly initialised Faster R-CNN weights whose classifier always says "person"."""
    torch.manual_seed(0)
    state = _network(0.5).state_dict()
    state["roi_heads.box_predictor.cls_score.bias"][1] = 20.0
    path = tmp_path_factory.mktemp("det") / "detector.pth"
    torch.save(state, path)
    return path


def test_detector_weight_loading(detector_file, tmp_path):
    model = _network(0.5)
    load_detector_weights(model, detector_file)
    saved = torch.load(detector_file, weights_only=True)
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    partial = dict(saved)
    partial.pop("roi_heads.box_predictor.cls_score.bias")
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(DetectorWeightsError, match="partial.pth.*missing keys.*cls_score.bias"):
        load_detector_weights(_network(0.5), tmp_path / "partial.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(DetectorWeightsError, match="junk.pth: cannot be read"):
        load_detector_weights(_network(0.5), tmp_path / "junk.pth")


def test_detector_path_finds_people_in_the_example(detector_file):
    args = build_parser().parse_args(["--detector_weights", str(detector_file), "--max_people", "2",
                                      "--detect_every", "2"])
    source = open_input(args, input_kind(args))
    times = StageTimes()
    finder = make_finder(args, source, "body", False, torch.device("cpu"), times)
    assert isinstance(finder, DetectorFinder)
    frame = next(source.frames())
    people = finder.find(frame, 0)
    assert [p.source for p in people] == ["detection 1", "detection 2"]
    assert people[0].score >= people[1].score >= 0.5
    for p in people:
        x, y, w, h = p.bbox
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 640 + 1e-3 and y + h <= 392 + 1e-3
    assert times.calls == {"detector load": 1, "detect": 1} and times.seconds["detect"] > 0
    assert finder.find(frame, 1) is None and times.calls["detect"] == 1  # --detect_every 2: not this frame


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No detector weights in the hub cache and no network: a download attempt fails at once."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))

    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr(torch.hub, "urlopen", unreachable)


def test_detector_weights_missing_offline(tiny_snapshots, tmp_path, offline):
    with pytest.raises(DetectorWeightsError) as err:
        run_demo(["--model_path", str(tiny_snapshots["body"]), "--out_dir", str(tmp_path / "out")])
    message = str(err.value)
    assert str(cached_weights_path().parent) in message and "fasterrcnn_resnet50_fpn_coco" in message
    assert "https://download.pytorch.org/models/" in message and "--bbox" in message
    assert "--detector_weights" in message and "--bbox_json" in message
    assert "network unreachable" in message
    assert list((tmp_path / "out").iterdir()) == []


def test_detector_weights_missing_for_the_shipped_example_names_its_boxes(tiny_snapshots, tmp_path, offline):
    with pytest.raises(DetectorWeightsError) as err:
        run_demo(["--model_path", str(tiny_snapshots["body"]), "--out_dir", str(tmp_path / "out")])
    assert f"for the shipped example: --bbox_json {DEMO_DIR / 'input_bbox.json'}" in str(err.value)


def test_hand_model_without_boxes_needs_keypoint_rcnn_or_keypoints(tiny_snapshots, tmp_path, offline):
    """A hand snapshot and no boxes: the hands come from Keypoint R-CNN, whose weights are missing offline; the
    error names its flag and the file that replaces it."""
    with pytest.raises(DetectorWeightsError) as err:
        run_demo(["--model_path", str(tiny_snapshots["hand"]), "--out_dir", str(tmp_path / "out")])
    message = str(err.value)
    assert "keypointrcnn_resnet50_fpn_coco" in message and "network unreachable" in message
    assert "--keypoint_weights FILE" in message and "--keypoints_json FILE" in message
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("ckpt", ["no_param", "lixel"])
def test_a_snapshot_that_cannot_run_the_stage_is_refused_before_the_detector(ckpt, tiny_snapshots, tmp_path,
                                                                              offline):
    with pytest.raises(DemoError, match=rf"{ckpt}\.pth\.tar (has no param_regressor|is a lixel-stage snapshot)"):
        run_demo(["--model_path", str(tiny_snapshots[ckpt]), "--out_dir", str(tmp_path / "out")])


# ----- bad input -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra, pattern", [
    (["--img", "missing.jpg"], r"--img: .*missing\.jpg: no such image"),
    (["--img", "{text}"], r"--img: .*not_an_image\.jpg: not a readable image"),
    (["--bbox", "700", "10", "50", "50"], r"--bbox #1 \[700.0, 10.0, 50.0, 50.0\] lies outside the 640x392 image"),
    (["--bbox", "10", "10", "0", "50"], r"--bbox #1 .* has zero or negative size"),
    (["--bbox", "10", "10", "50", "50", "--focal", "0", "1500"], r"--focal 0 1500: focal lengths must be positive"),
    (["--bbox", "10", "10", "50", "50", "--root_depth", "-2"], r"--root_depth \[-2.0\]: must be positive"),
    (["--bbox", "10", "10", "50", "50", "--root_depth", "2", "3"], r"--root_depth: 2 values for 1 boxes"),
    (["--bbox_json", "{missing_json}"], r"--bbox_json .*nothing\.json: file not found"),
    (["--bbox_json", "{low_json}"], r"no box with score >= --det_thresh 0.5 and category_id 1"),
    (["--bbox_json", "{bad_json}"], r"bad\.json, entry 1: 'bbox' must be 4 numbers"),
    (["--ckpt", "no_param", "--bbox", "10", "10", "50", "50"],
     r"no_param\.pth\.tar has no param_regressor weights.*--stage lixel"),
    (["--ckpt", "lixel", "--bbox", "10", "10", "50", "50"],
     r"lixel\.pth\.tar is a lixel-stage snapshot \(its 'stage' entry says so\)"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(extra, pattern, tiny_snapshots, tmp_path, offline):
    (tmp_path / "not_an_image.jpg").write_text("hello")
    (tmp_path / "low.json").write_text(json.dumps([{"bbox": [10, 10, 50, 50], "score": 0.2, "category_id": 1},
                                                   {"bbox": [10, 10, 50, 50], "category_id": 3}]))
    (tmp_path / "bad.json").write_text(json.dumps([{"bbox": ["a", 1, 2, 3]}]))
    fills = {"{text}": str(tmp_path / "not_an_image.jpg"), "{missing_json}": str(tmp_path / "nothing.json"),
             "{low_json}": str(tmp_path / "low.json"), "{bad_json}": str(tmp_path / "bad.json")}
    extra = [fills.get(a, a) for a in extra]
    ckpt = "body"
    if extra[0] == "--ckpt":
        ckpt, extra = extra[1], extra[2:]
    out = tmp_path / "out"
    with pytest.raises(DemoError, match=pattern):
        run_demo(["--model_path", str(tiny_snapshots[ckpt]), "--out_dir", str(out), *extra])
    assert not out.exists() or list(out.iterdir()) == []


def test_missing_snapshot_and_unwritable_output_folder(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    assert main(["--test_epoch", "12345", "--out_dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Cannot find model at ") and str(DEMO_DIR / "snapshot_12345.pth.tar") in err
    with pytest.raises(DemoError, match=r"output folder .*a_file/out cannot be written .*--out_dir"):
        run_demo(["--test_epoch", "8", "--out_dir", str(tmp_path / "a_file" / "out")])
    with pytest.raises(DemoError, match="pass --test_epoch N .* or --model_path FILE"):
        run_demo(["--out_dir", str(tmp_path / "out")])
