"""The demo's input (main/predictor/inputs.py): one image, a folder, a video; detection-file keys checked against
it; and, through ``run_demo``, every bad input refused, naming the flag and the file, before any network is built
and with nothing written."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import main.predictor.run as demo_run
from common.utils.video_out import VideoWriter
from main.predictor.errors import DemoError
from main.predictor.inputs import InputSource, check_table_keys, open_input
from main.predictor.run import run_demo

FRAMES = 8


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """8 frames of 64 x 48 at 30 frames/s; frame i a solid grey of level 25 i (a decoded frame tells its index)."""
    with VideoWriter(tmp_path_factory.mktemp("video") / "clip.mp4", 30.0, "h264") as writer:
        for i in range(FRAMES):
            writer.write(np.full((48, 64, 3), 25 * i, np.uint8))
    return writer.path


def _args(**given) -> argparse.Namespace:
    values = {"img": None, "img_dir": None, "video": None, "start": 0, "end": None, "stride": 1}
    return argparse.Namespace(**{**values, **given})


def test_one_image_is_frame_zero_and_can_be_read_twice(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    source = open_input(_args(img=tmp_path / "photo.png"), "image")
    assert (source.kind, source.stem, source.keys, source.expected_frames, source.fps) == ("image", "photo", [0], 1,
                                                                                           None)
    for _ in range(2):  # the demo looks for people first, then runs the frame
        (frame,) = list(source.frames())
        assert frame.key == 0 and np.array_equal(frame.image, pixels)


def test_a_folder_is_its_images_in_name_order_with_one_warning_for_the_rest(tmp_path, capsys):
    folder = tmp_path / "shots"
    folder.mkdir()
    for k, name in enumerate(("img10.png", "img2.png", "img1.jpg")):
        Image.fromarray(np.full((8, 8, 3), 10 * k, np.uint8)).save(folder / name)
    (folder / "notes.txt").write_text("x")
    (folder / "sub").mkdir()
    source = open_input(_args(img_dir=folder), "folder")
    assert source.keys == ["img1.jpg", "img2.png", "img10.png"] and source.stem == "shots"
    assert source.expected_frames == 3 and source.fps is None
    assert [f.key for f in source.frames()] == source.keys
    assert [int(f.image[0, 0, 0]) for f in source.frames()] == [20, 10, 0]
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"warning: 2 file(s) in {folder} skipped")
    assert "notes.txt" in out and "sub" in out


def test_a_video_is_its_frames_from_start_to_end_by_stride(video):
    source = open_input(_args(video=video, start=1, end=7, stride=2), "video")
    assert (source.kind, source.stem, source.fps, source.frame_count) == ("video", "clip", 30.0, FRAMES)
    assert source.expected_frames == 3 and source.keys is None
    frames = list(source.frames())
    assert [f.key for f in frames] == [1, 3, 5]  # absolute indices in the file
    assert [round(f.image.mean() / 25) for f in frames] == [1, 3, 5]
    assert [f.time_s for f in frames] == pytest.approx([1 / 30, 3 / 30, 5 / 30])
    assert open_input(_args(video=video, start=5, end=100, stride=2), "video").expected_frames == 2


def test_open_errors_name_the_flag_and_the_file(tmp_path, video):
    (tmp_path / "empty").mkdir()
    (tmp_path / "text.mp4").write_text("not a video")
    (tmp_path / "text.jpg").write_text("not an image")
    cases = [(_args(img=tmp_path / "missing.jpg"), "image", r"^--img: .*missing\.jpg"),
             (_args(img=tmp_path / "text.jpg"), "image", r"^--img: .*text\.jpg: not a readable image"),
             (_args(img_dir=tmp_path / "empty"), "folder", r"^--img_dir: .*empty: no images"),
             (_args(img_dir=tmp_path / "nowhere"), "folder", r"^--img_dir: .*nowhere: no such folder"),
             (_args(video=tmp_path / "text.mp4"), "video", r"^--video: .*text\.mp4: not a readable video"),
             (_args(video=tmp_path / "missing.mp4"), "video", r"^--video: .*missing\.mp4"),
             (_args(video=video, start=FRAMES), "video",
              rf"^--start {FRAMES}: the video .*clip\.mp4 has {FRAMES} frames \(0 to {FRAMES - 1}\)")]
    for args, kind, pattern in cases:
        with pytest.raises(DemoError, match=pattern):
            open_input(args, kind)


def _source(kind: str, **fields) -> InputSource:
    return InputSource(kind, Path({"video": "clip.mp4", "folder": "shots", "image": "a.jpg"}[kind]), "x",
                       lambda: iter([]), **fields)


def test_table_keys_video_indices_checked_folder_names_warned(capsys):
    video = _source("video", keys=None, frame_count=8)
    check_table_keys({0: [], 7: []}, video, "--bbox_json", Path("d.json"))
    with pytest.raises(DemoError, match=r"--bbox_json d.json: image_id 8 lies beyond the video clip.mp4, which has 8 "
                                        r"frames \(0 to 7\); is it the file of another video\?"):
        check_table_keys({0: [], 9: [], 8: []}, video, "--bbox_json", Path("d.json"))
    with pytest.raises(DemoError, match=r"--keypoints_json k.json: image_id 'a.jpg' is not a frame index"):
        check_table_keys({0: [], "a.jpg": []}, video, "--keypoints_json", Path("k.json"))
    with pytest.raises(DemoError, match=r"image_id -1 is not a frame index"):
        check_table_keys({-1: []}, video, "--bbox_json", Path("d.json"))
    check_table_keys({50: []}, _source("video", keys=None, frame_count=8, frame_count_exact=False), "--bbox_json",
                     Path("d.json"))  # an estimated frame count is not a reason to refuse
    assert capsys.readouterr().out == ""
    check_table_keys({"b.jpg": [], "zz.png": [], 3: []}, _source("folder", keys=["a.jpg", "b.jpg"]),
                     "--keypoints_json", Path("k.json"))
    out = capsys.readouterr().out
    assert out == "warning: --keypoints_json k.json: 2 image_id(s) name no image of shots and are ignored: 3, zz.png\n"
    check_table_keys({"anything": [], 4: []}, _source("image", keys=[0]), "--bbox_json", Path("d.json"))
    assert capsys.readouterr().out == ""


# ----- through run_demo: refused before any network is built ------------------------------------------------------

class NetworkBuilt(Exception):
    """Raised by the stand-in Predictor: reaching it means every check before the network passed."""


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise NetworkBuilt

    monkeypatch.setattr(demo_run, "Predictor", refuse)


@pytest.fixture(scope="module")
def tiny_body(tmp_path_factory) -> Path:
    """A file that reads as a body snapshot (the network is never built from it)."""
    path = tmp_path_factory.mktemp("tiny") / "body.pth.tar"
    torch.save({"epoch": 1, "network": {"module.mesh_net.conv_x.0.bias": torch.zeros(6890),
                                        "module.param_regressor.fc.0.weight": torch.zeros(1024, 87)}}, path)
    return path


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "shots"
    folder.mkdir(exist_ok=True)
    for name in ("a.jpg", "b.jpg"):
        Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(folder / name)
    return folder


@pytest.mark.parametrize("case", ["empty folder", "unreadable video", "start beyond", "json beyond", "json not int"])
def test_bad_input_is_refused_before_the_network_and_writes_nothing(case, video, tiny_body, tmp_path, no_network):
    (tmp_path / "empty").mkdir()
    (tmp_path / "text.mp4").write_text("not a video")
    beyond = tmp_path / "beyond.json"
    beyond.write_text(json.dumps([{"image_id": 2, "bbox": [1, 1, 20, 30]}, {"image_id": FRAMES, "bbox": [1, 1, 9, 9]}]))
    names = tmp_path / "names.json"
    names.write_text(json.dumps([{"image_id": "a.jpg", "bbox": [1, 1, 20, 30]}]))
    flags, pattern = {
        "empty folder": (["--img_dir", str(tmp_path / "empty")], r"--img_dir: .*empty: no images"),
        "unreadable video": (["--video", str(tmp_path / "text.mp4")], r"--video: .*text\.mp4: not a readable video"),
        "start beyond": (["--video", str(video), "--start", "20"], rf"--start 20: the video .*clip\.mp4 has {FRAMES}"),
        "json beyond": (["--video", str(video), "--bbox_json", str(beyond)],
                        rf"--bbox_json .*beyond\.json: image_id {FRAMES} lies beyond the video .*clip\.mp4"),
        "json not int": (["--video", str(video), "--bbox_json", str(names)],
                         r"--bbox_json .*names\.json: image_id 'a.jpg' is not a frame index"),
    }[case]
    out = tmp_path / "out"
    with pytest.raises(DemoError, match=pattern):
        run_demo(["--model_path", str(tiny_body), "--out_dir", str(out), *flags])
    assert not out.exists() or list(out.iterdir()) == []


def test_folder_file_names_missing_from_the_folder_are_a_warning(tiny_body, tmp_path, no_network, capsys):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps([{"image_id": "a.jpg", "bbox": [1, 1, 20, 30]},
                                 {"image_id": "gone.jpg", "bbox": [1, 1, 20, 30]}]))
    out = tmp_path / "out"
    with pytest.raises(NetworkBuilt):  # the run goes on to the network
        run_demo(["--model_path", str(tiny_body), "--img_dir", str(_folder(tmp_path)), "--bbox_json", str(boxes),
                  "--out_dir", str(out)])
    assert f"warning: --bbox_json {boxes}: 1 image_id(s) name no image of {tmp_path / 'shots'} and are ignored: " \
           f"gone.jpg" in capsys.readouterr().out
    assert list(out.iterdir()) == []
