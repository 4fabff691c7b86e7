"""What a run writes (main/predictor/sinks.py): overlays per image or one video, one colour per track, mesh files
by name and format, results files, one animation file per track of a video; nothing when the run fails.

People are built from the session's SMPL / MANO template meshes placed in front of a 160 x 120 camera, rendered
with the NumPy rasteriser."""
from __future__ import annotations

import io

import av
import cv2
import numpy as np
import pytest
import torch
import trimesh

from common.utils.io import StagedFolder
from common.utils.media import Frame
from common.utils.video_out import video_suffix
from common.utils.vis import MeshRenderer
from main.predictor.camera import Camera
from main.predictor.pipeline import FrameOutput
from main.predictor.predictor import Prediction
from main.predictor.results import SIZES, PersonResult, RunInfo, load_results
from main.predictor.sinks import (
    TRACK_COLORS,
    UNTRACKED_COLOR,
    OutputOptions,
    RunWriter,
    frame_tag,
    overlay_image,
    person_mesh,
    track_color,
)

WIDTH, HEIGHT = 160, 120
CAMERA = Camera((100.0, 100.0), (80.0, 60.0), "default")


@pytest.fixture(scope="module")
def templates(smpl, mano) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """kind -> (template vertices (V, 3) metres centred on the origin, faces)."""
    out = {}
    for kind, model, pose in (("body", smpl, 72), ("hand", mano, 48)):
        verts = model.forward(torch.zeros(1, pose), torch.zeros(1, 10))[0][0].double().numpy() / model.param_unit_per_m
        out[kind] = (verts - verts.mean(axis=0), model.face)
    return out


@pytest.fixture(scope="module")
def faces(templates) -> dict[str, np.ndarray]:
    return {kind: f for kind, (_, f) in templates.items()}


def _person(templates, kind: str, track_id: int, at, is_right=None, seed: int = 0, param: bool = True) -> PersonResult:
    rng = np.random.default_rng(seed)
    verts = templates[kind][0] + at
    size = SIZES[kind]
    return PersonResult(kind=kind, track_id=track_id, is_right=is_right, bbox=np.array([10.0, 10.0, 40.0, 80.0]),
                        score=0.9, root_depth=float(at[2]), joints_img=rng.uniform(0, 100, (size["joints"], 2)),
                        joints_cam=rng.normal(size=(size["joints"], 3)), mesh_lixel_cam=verts + 0.01,
                        pose=rng.normal(size=size["pose"]) * 0.1 if param else None,
                        shape=rng.normal(size=10) if param else None,
                        trans=np.asarray(at, dtype=np.float64) if param else None,
                        mesh_param_cam=verts if param else None)


def _output(key, people, image=None) -> FrameOutput:
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8) if image is None else image
    preds = [Prediction(result=p, mesh=None, bbox_proc=p.bbox, depth_source="given") for p in people]
    return FrameOutput(Frame(key=key, image=image), CAMERA, preds)


def _chroma(pixels: np.ndarray) -> np.ndarray:
    """Mean colour of the non-black pixels, scaled to sum 1 (shading changes the brightness, not this)."""
    lit = pixels[pixels.sum(axis=-1) > 30].astype(np.float64)
    assert len(lit) > 20, "nothing rendered there"
    return lit.mean(axis=0) / lit.mean(axis=0).sum()


def test_track_colours_and_frame_tags():
    assert len(set(TRACK_COLORS)) == len(TRACK_COLORS) >= 8
    assert [track_color(k) for k in range(len(TRACK_COLORS))] == list(TRACK_COLORS)
    assert track_color(len(TRACK_COLORS) + 2) == TRACK_COLORS[2] and track_color(-1) == UNTRACKED_COLOR
    assert UNTRACKED_COLOR not in TRACK_COLORS
    assert [frame_tag(k) for k in (0, 123, 1234567)] == ["frame_000000", "frame_000123", "frame_1234567"]
    assert [frame_tag(n) for n in ("img_01.jpg", "a.b.png", "IMG.JPEG")] == ["img_01", "a.b", "IMG"]


def test_person_mesh_prefers_the_param_mesh_and_turns_left_hand_faces(templates, faces):
    body = _person(templates, "body", 0, [0, 0, 3])
    verts, f = person_mesh(body, faces["body"])
    assert verts is body.mesh_param_cam and f is faces["body"]
    lixel_only = _person(templates, "body", 0, [0, 0, 3], param=False)
    assert person_mesh(lixel_only, faces["body"])[0] is lixel_only.mesh_lixel_cam
    left = _person(templates, "hand", 0, [0, 0, 1], is_right=False)
    np.testing.assert_array_equal(person_mesh(left, faces["hand"])[1], faces["hand"][:, [2, 1, 0]])
    np.testing.assert_array_equal(person_mesh(_person(templates, "hand", 0, [0, 0, 1], is_right=True),
                                              faces["hand"])[1], faces["hand"])


def test_overlay_colours_follow_the_track_ids(templates, faces):
    left_at, right_at = [-0.6, 0.0, 4.0], [0.6, 0.0, 4.0]
    with MeshRenderer("numpy") as renderer:
        def halves(ids):
            people = [_person(templates, "body", ids[0], left_at), _person(templates, "body", ids[1], right_at)]
            image = overlay_image(renderer, _output(0, people), faces, with_side_view=False)
            assert image.shape == (HEIGHT, WIDTH, 3) and image.dtype == np.uint8
            return _chroma(image[:, :WIDTH // 2]), _chroma(image[:, WIDTH // 2:])

        left, right = halves((0, 1))
        swapped_left, swapped_right = halves((1, 0))
        grey_left, _ = halves((-1, 1))
        assert np.abs(left - right).max() > 0.05  # two tracks, two colours
        np.testing.assert_allclose(swapped_left, right, atol=0.02)  # the colour goes with the id, not the order
        np.testing.assert_allclose(swapped_right, left, atol=0.02)
        np.testing.assert_allclose(grey_left, [1 / 3] * 3, atol=0.02)  # a hand without a body: grey
        background = np.full((HEIGHT, WIDTH, 3), 200, np.uint8)
        with_side = overlay_image(renderer, _output(0, [_person(templates, "body", 0, left_at)], background), faces,
                                  with_side_view=True)
    assert with_side.shape == (HEIGHT, 2 * WIDTH, 3)
    assert (with_side[:, :WIDTH] != 200).any() and (with_side[:, WIDTH:] != 64).any()


def _write(tmp_path, info: RunInfo, stem: str, faces, outputs, options: OutputOptions, stride: int = 1):
    with StagedFolder(tmp_path / "out") as stage, MeshRenderer("numpy") as renderer:
        writer = RunWriter(stage, info, stem, faces, options, renderer, stride=stride)
        for out in outputs:
            writer.add(out)
        writer.finish()
    return sorted(stage.names)


def test_a_folder_gets_one_overlay_per_image_and_mesh_files_by_name(templates, faces, tmp_path):
    info = RunInfo(input="shots", input_kind="folder", kinds=("body",), stage="param")
    outputs = [_output("a.jpg", [_person(templates, "body", 0, [-0.5, 0, 4]), _person(templates, "body", 1, [0.5, 0, 4],
                                                                                      seed=1)]),
               _output("b.png", []), _output("c.jpeg", [_person(templates, "body", 0, [0, 0, 4])])]
    names = _write(tmp_path, info, "shots", faces, outputs, OutputOptions(save_mesh=True, mesh_format="obj"))
    assert names == ["a_overlay.jpg", "b_overlay.jpg", "c_overlay.jpg", "meshes/a_body0.obj", "meshes/a_body1.obj",
                     "meshes/c_body0.obj", "results.json", "results.npz"]
    out = tmp_path / "out"
    for name in ("a_overlay.jpg", "b_overlay.jpg"):
        assert cv2.imread(str(out / name)).shape == (HEIGHT, WIDTH, 3)
    assert cv2.imread(str(out / "a_overlay.jpg")).max() > 50 and cv2.imread(str(out / "b_overlay.jpg")).max() < 10
    lines = (out / "meshes" / "a_body1.obj").read_text().splitlines()
    verts = np.array([ln.split()[1:] for ln in lines if ln.startswith("v ")], dtype=float)
    np.testing.assert_allclose(verts, outputs[0].people[1].result.mesh_param_cam, atol=1e-5)
    assert sum(ln.startswith("f ") for ln in lines) == len(faces["body"])
    frames, loaded = load_results(out / "results.npz")
    assert [f.key for f in frames] == ["a.jpg", "b.png", "c.jpeg"] and loaded.input_kind == "folder"
    assert frames[0].people[1].mesh_param_cam is not None
    assert not [p for p in out.iterdir() if p.name.endswith(".npz") and p.name != "results.npz"]  # no animations


@pytest.mark.parametrize("fmt", ["ply", "glb"])
def test_mesh_formats(fmt, templates, faces, tmp_path):
    info = RunInfo(input="shots", input_kind="folder", kinds=("body", "hand"), stage="param")
    people = [_person(templates, "body", 0, [0, 0, 4]), _person(templates, "hand", 0, [0.2, 0, 3], is_right=False)]
    names = _write(tmp_path, info, "shots", faces, [_output("a.jpg", people), _output("b.jpg", [])],
                   OutputOptions(save_mesh=True, mesh_format=fmt, overlay=False))
    meshes = [n for n in names if n.startswith("meshes/")]
    if fmt == "ply":
        assert meshes == ["meshes/a_body0.ply", "meshes/a_hand0_left.ply"]
        hand = trimesh.load(tmp_path / "out" / meshes[1], process=False)
        np.testing.assert_allclose(hand.vertices, people[1].mesh_param_cam, atol=1e-5)
        np.testing.assert_array_equal(hand.faces, faces["hand"][:, ::-1])
    else:
        assert meshes == ["meshes/a.glb"]  # one scene per frame with people, holding every person
        scene = trimesh.load(tmp_path / "out" / meshes[0])
        assert sorted(len(g.vertices) for g in scene.geometry.values()) == [778, 6890]


def _clip(templates, with_hand: bool = True) -> list[FrameOutput]:
    """Frames 0, 2, 4 of a video (stride 2): body track 0 throughout, body track 1 in frames 0 and 4, the left hand
    of body 0 in frame 2."""
    frames = []
    for n, key in enumerate((0, 2, 4)):
        people = [_person(templates, "body", 0, [-0.5 + 0.1 * n, 0, 4], seed=n)]
        if key != 2:
            people.append(_person(templates, "body", 1, [0.6, 0, 4], seed=10 + n))
        elif with_hand:
            people.append(_person(templates, "hand", 0, [-0.3, 0, 3], is_right=False, seed=20))
        frames.append(_output(key, people))
    return frames


def test_a_video_gets_its_overlay_video_and_an_animation_file_per_track(templates, faces, tmp_path):
    clip = _clip(templates)
    info = RunInfo(input="clip.mp4", input_kind="video", kinds=("body", "hand"), stage="param", fps=30.0)
    names = _write(tmp_path, info, "clip", faces, clip, OutputOptions(side_view=True), stride=2)
    overlay = f"clip_overlay{video_suffix()}"
    assert names == sorted([overlay, "results.json", "results.npz", "clip_body0.npz", "clip_body1.npz",
                            "clip_hand0_left.npz"])
    with av.open(str(tmp_path / "out" / overlay)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 3 and decoded[0].shape == (HEIGHT, 2 * WIDTH, 3)
    for name, rows in (("clip_body0.npz", [p.people[0].result for p in clip]),
                       ("clip_body1.npz", [clip[0].people[1].result, clip[2].people[1].result]),
                       ("clip_hand0_left.npz", [clip[1].people[1].result])):
        data = np.load(io.BytesIO((tmp_path / "out" / name).read_bytes()), allow_pickle=False)
        assert float(data["mocap_framerate"]) == 15.0  # 30 frames/s, every second frame
        np.testing.assert_allclose(data["poses"], np.stack([r.pose for r in rows]), atol=1e-6)
        np.testing.assert_allclose(data["trans"], np.stack([r.trans for r in rows]), atol=1e-6)
        np.testing.assert_allclose(data["betas"], np.mean([r.shape for r in rows], axis=0), atol=1e-6)
    assert np.load(tmp_path / "out" / "clip_body1.npz")["frame_index"].tolist() == [0, 4]
    assert not bool(np.load(tmp_path / "out" / "clip_hand0_left.npz")["is_right"])
    frames, _ = load_results(tmp_path / "out" / "results.npz")
    assert [f.key for f in frames] == [0, 2, 4]
    assert all(p.mesh_param_cam is None and p.mesh_lixel_cam is None for f in frames for p in f.people)


def test_lixel_runs_have_no_animations_and_failed_runs_leave_nothing(templates, faces, tmp_path):
    info = RunInfo(input="clip.mp4", input_kind="video", kinds=("body",), stage="lixel", fps=25.0)
    lixel = [_output(k, [_person(templates, "body", 0, [0, 0, 4], param=False)]) for k in (0, 1)]
    names = _write(tmp_path, info, "clip", faces, lixel, OutputOptions(overlay=False))
    assert names == ["results.json", "results.npz"]
    failed = tmp_path / "failed"
    with pytest.raises(RuntimeError, match="decoder broke"):
        with StagedFolder(failed) as stage, MeshRenderer("numpy") as renderer:
            writer = RunWriter(stage, info, "clip", faces, OutputOptions(), renderer)
            try:
                writer.add(lixel[0])
                raise RuntimeError("decoder broke")
            except BaseException:
                writer.abort()
                raise
    assert list(failed.iterdir()) == []
