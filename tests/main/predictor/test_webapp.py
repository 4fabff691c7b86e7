"""The browser demo through its API (gradio_client), against one app on a free local port with the session's
random-weight body snapshot: the bundled image and video with their detections give the command-line demo's results;
bad uploads get a message and the app keeps serving; start-up flags are checked before anything loads.

One app serves the whole module; each input is compared with one command-line run of the demo on it.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
import trimesh
from PIL import Image

from common.utils.video_out import VideoWriter
from main.predictor.errors import DemoError
from main.predictor.mesh_files import CAMERA_TO_GLTF
from main.predictor.results import load_results, rebuild_param_mesh
from main.predictor.run import run_demo
from main.predictor.webapp import KEPT_JOBS, check_port_free, main, make_workdir, parse_app_args, serve
from main.predictor.webapp_jobs import JobRequest
from tools.webapp_screenshot import free_port

DEMO = Path(__file__).resolve().parents[3] / "demo"
IMAGE, IMAGE_BOXES = DEMO / "input.jpg", DEMO / "input_bbox.json"
VIDEO, VIDEO_BOXES = DEMO / "input_video.mp4", DEMO / "input_video_bbox.json"
LIMITS = ["--max_upload_mb", "1", "--max_pixels", "300000", "--max_video_s", "1"]  # the demo media fit under them
VIDEO_OPTIONS = {"smooth": True, "stride": 4, "view_frame": 5}


@pytest.fixture(scope="module")
def server(body_snapshot_file, model_dir):
    """The app of this module, in this process; stopping it must remove its temporary folder."""
    args = parse_app_args(["--model_path", str(body_snapshot_file), "--human_model_dir", str(model_dir),
                           "--port", str(free_port()), *LIMITS])
    running = serve(args, prevent_thread_lock=True)
    yield running
    workdir = running.app.workdir
    running.close()
    assert not workdir.exists(), "the app left its temporary folder behind"
    assert os.environ.get("GRADIO_TEMP_DIR") is None or str(workdir) not in os.environ["GRADIO_TEMP_DIR"]


@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    from gradio_client import Client

    return Client(server.url, download_files=str(tmp_path_factory.mktemp("downloads")), verbose=False)


def _cli(body_snapshot_file, model_dir, out: Path, *flags: str) -> Path:
    run_demo(["--model_path", str(body_snapshot_file), "--human_model_dir", str(model_dir), "--out_dir", str(out),
              *flags])
    return out


@pytest.fixture(scope="module")
def cli_image(body_snapshot_file, model_dir, tmp_path_factory) -> Path:
    return _cli(body_snapshot_file, model_dir, tmp_path_factory.mktemp("cli_image"), "--img", str(IMAGE),
                "--bbox_json", str(IMAGE_BOXES))


@pytest.fixture(scope="module")
def cli_video(body_snapshot_file, model_dir, tmp_path_factory) -> Path:
    return _cli(body_snapshot_file, model_dir, tmp_path_factory.mktemp("cli_video"), "--video", str(VIDEO),
                "--bbox_json", str(VIDEO_BOXES), "--smooth", "--stride", str(VIDEO_OPTIONS["stride"]))


def _run(client, media: Path | dict | None, detections: Path | None = None, **options):
    """The page's /run with the page's defaults, ``options`` overriding them; returns the six outputs."""
    from gradio_client import handle_file

    values = {"det_thresh": 0.5, "camera": "default", "camera_value": None, "smooth": False, "stride": 1,
              "side_view": False, "save_mesh": False, "view_frame": None, **options}
    media = handle_file(str(media)) if isinstance(media, Path) else media
    return client.predict(media, None if detections is None else handle_file(str(detections)),
                          *values.values(), None, api_name="/run")


def _by_name(downloads: list[str]) -> dict[str, Path]:
    return {Path(p).name: Path(p) for p in downloads}


def _assert_same_results(app_npz: Path, cli_npz: Path) -> None:
    """Every array equal; the run info equal but for the input's path (the app names the upload) and the
    detections file (its name)."""
    with np.load(app_npz, allow_pickle=False) as got, np.load(cli_npz, allow_pickle=False) as want:
        assert sorted(got.files) == sorted(want.files)
        for key in want.files:
            if key != "info_json":
                np.testing.assert_array_equal(got[key], want[key], err_msg=key)
        got_info, want_info = json.loads(str(got["info_json"])), json.loads(str(want["info_json"]))
    assert got_info["input"] == Path(want_info["input"]).name
    assert got_info["flags"].pop("bbox_json") == Path(want_info["flags"].pop("bbox_json")).name
    got_info.pop("input"), want_info.pop("input")
    assert got_info == want_info


def _glb_meshes(path: Path) -> dict[str, np.ndarray]:
    """Node name -> (V, 3) vertices back in camera space (metres)."""
    scene = trimesh.load(path, file_type="glb", force="scene", process=False)
    return {name: np.asarray(geom.vertices) @ CAMERA_TO_GLTF for name, geom in scene.geometry.items()}


def test_image_gives_the_command_line_results_overlay_and_meshes(client, cli_image):
    status, overlay, video, scene, side, downloads = _run(client, IMAGE, IMAGE_BOXES)
    assert status.startswith("1 person in")
    assert overlay["visible"] and Path(overlay["value"]).name == "rendered_mesh_param.jpg" and not video["visible"]
    files = _by_name(downloads)
    assert set(files) == {"results.npz", "results.json", "output_mesh_lixel.obj", "output_mesh_param.obj",
                          "scene_frame_000000.glb"}
    _assert_same_results(files["results.npz"], cli_image / "results.npz")
    for name in ("output_mesh_param.obj", "output_mesh_lixel.obj"):
        assert files[name].read_bytes() == (cli_image / name).read_bytes(), name
    want = np.asarray(Image.open(cli_image / "rendered_mesh_param.jpg"), dtype=int)
    assert np.abs(np.asarray(Image.open(overlay["value"]), dtype=int) - want).max() <= 1
    mesh = trimesh.load(cli_image / "output_mesh_param.obj", process=False)
    [(node, verts)] = _glb_meshes(Path(scene)).items()
    assert node == "body0"
    np.testing.assert_allclose(verts, mesh.vertices, atol=1e-5)
    side_view = np.asarray(Image.open(side))
    assert side_view.shape == want.shape and side_view.std() > 5, "an empty side view"


def test_video_gives_the_command_line_results_and_a_playable_overlay(client, cli_video, smpl):
    status, overlay, video, scene, side, downloads = _run(client, VIDEO, VIDEO_BOXES, **VIDEO_OPTIONS)
    assert status.startswith("4 frames in") and "frame 8 in 3D" in status  # frames 0, 4, 8, 12: 8 is first >= 5
    assert video["visible"] and not overlay["visible"]
    files = _by_name(downloads)
    animations = sorted(p.name for p in cli_video.glob("input_video_body*.npz"))
    assert set(files) == {"results.npz", "results.json", "scene_frame_000008.glb", "input_video_overlay.mp4",
                          *animations} and animations
    _assert_same_results(files["results.npz"], cli_video / "results.npz")
    for name in animations:
        assert files[name].read_bytes() == (cli_video / name).read_bytes(), name
    with av.open(str(video["value"]["video"] if isinstance(video["value"], dict) else video["value"])) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and len(list(container.decode(stream))) == 4
    frames, _ = load_results(files["results.npz"])
    [frame] = [f for f in frames if f.key == 8]
    meshes = _glb_meshes(Path(scene))
    assert sorted(meshes) == sorted(f"body{p.track_id}" for p in frame.people)
    for p in frame.people:
        rebuilt = rebuild_param_mesh(smpl.layer(), "body", p.pose, p.shape, p.trans)
        np.testing.assert_allclose(meshes[f"body{p.track_id}"], rebuilt, atol=1e-4)
    assert np.asarray(Image.open(side)).shape == (240, 320, 3)


def test_a_job_reports_each_frame_zips_the_mesh_files_and_removes_old_job_folders(server):
    old = [server.app.workdir / "jobs" / f"old_{k}" for k in range(6)]
    for k, folder in enumerate(old):
        folder.mkdir(parents=True)
        os.utime(folder, (1e9 + k, 1e9 + k))
    calls: list[tuple[int, int | None]] = []
    result = server.app.run(JobRequest(media=VIDEO, bbox_json=VIDEO_BOXES, stride=8, save_mesh=True),
                            lambda done, total: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]
    with zipfile.ZipFile(result.out_dir / "meshes.zip") as archive:
        names = sorted(archive.namelist())
    assert [n.split("_body")[0] for n in names] == ["meshes/frame_000000"] * 2 + ["meshes/frame_000008"] * 2
    assert all(n.endswith(".obj") for n in names)
    assert not any(folder.exists() for folder in old[:3]) and result.out_dir.is_dir()
    assert len(list((server.app.workdir / "jobs").iterdir())) == server.app.concurrency + KEPT_JOBS + 1


def _text_named_jpg(folder: Path) -> Path:
    path = folder / "holiday.jpg"
    path.write_text("this is not a picture\n")
    return path


def _truncated_video(folder: Path) -> Path:
    data = VIDEO.read_bytes()
    path = folder / "cut.mp4"
    path.write_bytes(data[:int(len(data) * 0.6)])
    return path


def _large_image(folder: Path) -> Path:
    path = folder / "large.png"
    Image.new("RGB", (600, 600), (90, 120, 150)).save(path)
    return path


def _long_video(folder: Path) -> Path:
    path = folder / "long.mp4"
    with VideoWriter(path, 30.0) as writer:
        for k in range(60):
            writer.write(np.full((48, 64, 3), 4 * k, dtype=np.uint8))
    return path


def _no_person_boxes(folder: Path) -> Path:
    path = folder / "weak.json"
    path.write_text(json.dumps([{"image_id": 0, "bbox": [193.5, 71.7, 168.8, 311.0], "score": 0.2,
                                 "category_id": 1}]))
    return path


BAD_UPLOADS = [  # (media, detections, what the message must say)
    (_text_named_jpg, None, "holiday.jpg: not a readable image"),
    (_truncated_video, VIDEO_BOXES, "the video is damaged"),
    (lambda folder: IMAGE, _no_person_boxes, "weak.json: no box with score >= --det_thresh 0.5"),
    (_large_image, None, "large.png is 600 x 600 = 360000 pixels; this server takes at most 300000"),
    (_long_video, None, "long.mp4 is 2.0 s long; this server takes videos up to 1 s (--max_video_s)"),
]


@pytest.mark.parametrize("media, detections, message", BAD_UPLOADS,
                         ids=["text-as-jpg", "truncated-video", "no-person", "too-many-pixels", "too-long"])
def test_a_bad_upload_gets_a_message_and_the_app_keeps_serving(client, server, tmp_path, media, detections,
                                                                message):
    from gradio_client.exceptions import AppError

    boxes = detections(tmp_path) if callable(detections) else detections
    with pytest.raises(AppError) as caught:
        _run(client, media(tmp_path), boxes)
    assert message in str(caught.value)
    assert "Traceback" not in str(caught.value) and str(server.app.workdir) not in str(caught.value)
    _assert_serving(server)


def test_an_upload_over_the_size_limit_is_refused(client, server, tmp_path):
    import httpx

    big = tmp_path / "big.png"
    big.write_bytes(os.urandom(1_500_000))
    with pytest.raises(ValueError, match="exceeds the maximum file size of 1000000 bytes"):
        _run(client, big)  # the client reads the limit from the page's config
    response = httpx.post(server.url + "gradio_api/upload", files={"files": ("big.png", big.read_bytes())})
    assert response.status_code == 413  # and the server refuses it whatever the client
    with pytest.raises(Exception, match="upload an image or a video first"):
        _run(client, None)
    _assert_serving(server)


def test_the_page_cannot_make_the_server_read_a_path_it_names(server):
    """A request that names a server file instead of uploading it is refused before the handler runs."""
    data = [{"path": str(IMAGE), "meta": {"_type": "gradio.FileData"}}, None, 0.5, "default", None, False, 1, False,
            False, None, None]
    request = urllib.request.Request(server.url + "gradio_api/call/run", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{server.url}gradio_api/call/run/{event_id}", timeout=60) as response:
        stream = response.read().decode()
    assert "event: error" in stream and "event: complete" not in stream
    _assert_serving(server)


def _assert_serving(server) -> None:
    with urllib.request.urlopen(server.url, timeout=30) as response:
        assert response.status == 200 and b"<gradio-app" in response.read()


def test_the_app_is_private_and_offline_by_default(server):
    blocks = server.blocks
    assert blocks.share is False and blocks.share_url is None and blocks.analytics_enabled is False
    assert server.url.startswith("http://127.0.0.1:")
    assert Path(os.environ["GRADIO_TEMP_DIR"]).parent == server.app.workdir  # uploads inside the app's folder


def test_start_up_refuses_page_flags_bad_limits_and_a_busy_port(body_snapshot_file, capsys):
    snapshot = ["--model_path", str(body_snapshot_file)]
    with pytest.raises(DemoError, match="--video is chosen in the page"):
        parse_app_args([*snapshot, "--video", str(VIDEO)])
    with pytest.raises(DemoError, match="--max_pixels 0: must be positive"):
        parse_app_args([*snapshot, "--max_pixels", "0"])
    with pytest.raises(DemoError, match="no snapshot given"):
        parse_app_args([])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(DemoError, match=f"port {port} on 127.0.0.1 is in use"):
            check_port_free("127.0.0.1", port)
        assert main([*snapshot, "--port", str(port)]) == 1  # before the snapshot is read
    assert f"error: port {port} on 127.0.0.1 is in use by another program" in capsys.readouterr().err


def test_page_options_become_the_demo_flags(server):
    from main.predictor.webapp_jobs import job_args

    startup = server.app.models.args
    args = job_args(startup, JobRequest(media=IMAGE, camera="fov", camera_value=60.0, det_thresh=0.7, stride=3,
                                        smooth=True), Path("out"))
    assert (args.img, args.video, args.fov, args.det_thresh, args.smooth, args.stride) == \
        (IMAGE, None, 60.0, 0.7, True, 1)  # --stride applies to videos only
    assert startup.img is None and startup.fov is None and startup.det_thresh == 0.5  # the start-up flags stay
    args = job_args(startup, JobRequest(media=VIDEO, camera="focal", camera_value=800, stride=3), Path("out"))
    assert (args.video, args.focal, args.stride) == (VIDEO, ["800"], 3)
    with pytest.raises(DemoError, match="focal length .pixels. must be a positive number"):
        job_args(startup, JobRequest(media=IMAGE, camera="focal", camera_value=None), Path("out"))


def test_a_killed_apps_folder_is_removed_when_the_next_app_starts(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead = tmp_path / f"i2l_webapp.{int(gone.stdout)}.abc"
    alive = tmp_path / f"i2l_webapp.{os.getpid()}.def"
    for folder in (dead, alive):
        (folder / "gradio").mkdir(parents=True)
    new = make_workdir(tmp_path)
    assert not dead.exists() and alive.is_dir() and new.is_dir() and new.name.startswith(f"i2l_webapp.{os.getpid()}.")
    assert new.stat().st_mode & 0o077 == 0  # private to its user
