"""The browser demo's jobs: one upload (an image or a video, optional detection files) through the demo's pipeline
with the networks loaded once at start-up (docs/webapp.md).

A job is the command-line demo with its flags set by the page: :func:`job_args` copies the start-up flags and sets
the input, the detection files and the page's options; :func:`run_job` then runs the steps of
:func:`main.predictor.run.run_demo` (the same finder, pipeline, writer and files) without reading the snapshot
again, reporting each frame to a progress callback.  It adds what the page shows: a GLB scene and a side view of one
frame.  Pixels in the image, metres in camera space (x right, y down, z forward).
"""
from __future__ import annotations

import argparse
import copy
import os
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from common.utils.io import StagedFolder
from common.utils.media import IMAGE_SUFFIXES, MediaError, probe_video
from common.utils.stopwatch import StageTimes
from common.utils.vis import MeshRenderer, encode_jpg
from main.predictor.errors import DemoError
from main.predictor.inputs import open_input
from main.predictor.mesh_files import scene_glb_bytes
from main.predictor.options import check_args, input_kind, smooth_options, track_options
from main.predictor.pipeline import FrameOutput, FramePipeline
from main.predictor.results import RunInfo
from main.predictor.run import (
    camera_for_flags,
    find_people,
    load_predictors,
    pick_device,
    read_snapshot,
    run_flags,
    write_run,
)
from main.predictor.sinks import (
    OutputOptions,
    RunWriter,
    frame_tag,
    overlay_image,
    person_mesh,
    person_tag,
    track_color,
)

DEFAULT_MAX_UPLOAD_MB = 100.0
DEFAULT_MAX_PIXELS = 4096 * 4096
DEFAULT_MAX_VIDEO_S = 20.0
DETECTOR_FLOOR = 0.05  # the shared person detector keeps boxes down to this score; each job keeps its own threshold
CAMERAS = ("default", "focal", "fov", "exif")  # start-up camera, --focal F, --fov DEG, --focal exif


@dataclass
class Limits:
    """What one upload may be: ``max_upload_mb`` megabytes (10^6 bytes) per file, ``max_pixels`` per image or video
    frame, ``max_video_s`` seconds of video."""

    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_video_s: float = DEFAULT_MAX_VIDEO_S


@dataclass
class JobRequest:
    """One run asked for by the page: ``media`` an image or a video (by its suffix), optional ``bbox_json`` /
    ``keypoints_json`` (the demo's files), and the options (None: the start-up value).  ``camera`` one of
    :data:`CAMERAS` with ``camera_value`` pixels (focal) or degrees (fov); ``view_frame`` the video frame index
    shown in 3D (None: the first processed frame with people)."""

    media: Path
    bbox_json: Path | None = None
    keypoints_json: Path | None = None
    det_thresh: float | None = None
    camera: str = "default"
    camera_value: float | None = None
    smooth: bool | None = None
    stride: int | None = None
    side_view: bool | None = None
    save_mesh: bool | None = None
    view_frame: int | None = None


@dataclass
class JobResult:
    """A finished job: ``files`` name -> path in ``out_dir`` (the demo's files and the page's extras); ``overlay``
    the overlay image or video; ``scene`` (GLB) and ``side`` (JPEG) of frame ``view_key``, None when nobody was
    found; ``downloads`` the files offered for download; ``frames`` processed, ``people`` in the shown frame;
    ``seconds`` the whole job, ``stage_seconds`` the demo's per-stage line ("decode 0.05, network 4.07, ...")."""

    kind: str
    out_dir: Path
    files: dict[str, Path]
    overlay: Path
    scene: Path | None
    side: Path | None
    downloads: list[Path]
    view_key: int | str | None
    frames: int
    people: int
    seconds: float
    stage_seconds: str = ""

    def summary(self) -> str:
        if self.kind == "image":
            return f"{self.people} {'person' if self.people == 1 else 'people'} in {self.seconds:.1f} s"
        shown = f"; frame {self.view_key} in 3D ({self.people} people)" if self.view_key is not None else \
            "; nobody found in any frame"
        return f"{self.frames} frames in {self.seconds:.1f} s ({self.seconds / max(1, self.frames):.2f} s a frame)" \
            + shown


class Models:
    """The start-up flags and what they load once: the predictors (body / hand, from the snapshots) and, on first
    use, the person detector."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        checkpoint, self.main_kind = read_snapshot(args)
        self.device = pick_device(args.gpu)
        self.predictors = load_predictors(args, checkpoint, self.device, StageTimes())
        self._detector = None
        self._lock = threading.Lock()

    def person_detector(self, det_thresh: float, times: StageTimes) -> Callable[[np.ndarray], list]:
        """image -> [(bbox, score)] with score >= ``det_thresh``; the detector is built at the first call."""
        from common.detector import build_person_detector, detect_people  # noqa: PLC0415 - torchvision detection

        def detect(image: np.ndarray) -> list:
            with self._lock:
                if self._detector is None:
                    with times("detector load"):
                        floor = min(DETECTOR_FLOOR, self.args.det_thresh)
                        self._detector = build_person_detector(self.args.detector_weights, floor, self.device,
                                                               name=self.args.detector)
            with times("detect"):
                return [(np.asarray(d.bbox), d.score)
                        for d in detect_people(self._detector, image, det_thresh, self.device)]

        return detect


def job_args(startup: argparse.Namespace, request: JobRequest, out_dir: Path) -> argparse.Namespace:
    """The demo's flags for ``request``: the start-up flags with the input, files and page options set."""
    args = copy.copy(startup)
    media = Path(request.media)
    is_image = media.suffix.lower() in IMAGE_SUFFIXES
    args.img, args.video = (media, None) if is_image else (None, media)
    args.bbox_json, args.keypoints_json, args.out_dir = request.bbox_json, request.keypoints_json, out_dir
    if request.det_thresh is not None:
        args.det_thresh = float(request.det_thresh)
    if request.camera not in CAMERAS:
        raise DemoError(f"camera {request.camera!r}: one of {', '.join(CAMERAS)}")
    if request.camera != "default":
        value = request.camera_value
        if request.camera in ("focal", "fov") and (value is None or not value > 0):
            what = "focal length (pixels)" if request.camera == "focal" else "field of view (degrees)"
            raise DemoError(f"the camera's {what} must be a positive number, got {value}")
        args.focal = ["exif"] if request.camera == "exif" else [str(value)] if request.camera == "focal" else None
        args.fov = float(value) if request.camera == "fov" else None
    if request.stride is not None and not is_image:  # --stride applies to videos
        args.stride = int(request.stride)
    for name in ("smooth", "side_view", "save_mesh"):
        if getattr(request, name) is not None:
            setattr(args, name, bool(getattr(request, name)))
    return args


def check_limits(media: Path, files: list[Path | None], limits: Limits) -> None:
    """A clear error before anything is decoded when an upload exceeds ``limits`` (unreadable files pass: the
    demo's own checks name them)."""
    for path in [media, *files]:
        if path is not None and os.path.getsize(path) > limits.max_upload_mb * 1e6:
            raise DemoError(f"{Path(path).name} is {os.path.getsize(path) / 1e6:.1f} MB; this server takes files up "
                            f"to {limits.max_upload_mb:g} MB (--max_upload_mb)")
    if media.suffix.lower() in IMAGE_SUFFIXES:
        from PIL import Image  # noqa: PLC0415 - reads the header only, before the image is decoded

        try:
            with Image.open(media) as img:
                width, height = img.size
        except (OSError, ValueError, Image.DecompressionBombError):
            return
        _check_pixels(media, width, height, limits)
        return
    try:
        info = probe_video(media)
    except MediaError:
        return
    _check_pixels(media, info.width, info.height, limits)
    seconds = info.frame_count / info.fps if info.fps else 0.0
    if seconds > limits.max_video_s:
        raise DemoError(f"{media.name} is {seconds:.1f} s long; this server takes videos up to "
                        f"{limits.max_video_s:g} s (--max_video_s): cut it shorter")


def _check_pixels(media: Path, width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_pixels:
        raise DemoError(f"{media.name} is {width} x {height} = {width * height} pixels; this server takes at most "
                        f"{limits.max_pixels} pixels a frame (--max_pixels): scale it down")


def run_job(models: Models, request: JobRequest, out_dir: Path, limits: Limits,
            progress: Callable[[int, int | None], None] | None = None) -> JobResult:
    """Run ``request`` into the new folder ``out_dir``; ``progress(done, total)`` after every frame (total may be
    None).  Bad input raises a :class:`common.errors.UserError` naming it."""
    start = time.perf_counter()
    check_limits(Path(request.media), [request.bbox_json, request.keypoints_json], limits)
    args = job_args(models.args, request, out_dir)
    kind = input_kind(args)
    check_args(args, kind)
    source = open_input(args, kind)
    times = StageTimes()
    kinds = set(models.predictors)
    finder = find_people(args, source, models.main_kind, kinds, models.device, times,
                         models.person_detector(args.det_thresh, times))
    pipeline = FramePipeline(models.predictors, finder, camera_for_flags(args), track_options(args, kind),
                             smooth_options(args), fps=source.fps, times=times)
    flags = run_flags(args)
    for name in ("bbox_json", "keypoints_json"):  # the upload's name, not the server's cache path
        flags[name] = None if flags[name] is None else Path(flags[name]).name
    info = RunInfo(input=source.path.name, input_kind=kind, kinds=tuple(sorted(kinds)), stage=args.stage,
                   fps=source.fps, flags=flags)
    faces = {k: p.faces for k, p in models.predictors.items()}
    options = OutputOptions(save_mesh=args.save_mesh, mesh_format=args.mesh_format, side_view=args.side_view)
    frames, view = 0, None
    before = {k: (dict(p.times.seconds), dict(p.times.calls)) for k, p in models.predictors.items()}

    def on_frame(out: FrameOutput) -> None:
        nonlocal frames, view
        frames += 1
        view = _pick_view(view, out, request.view_frame)
        if progress is not None:
            progress(frames, source.expected_frames)

    with StagedFolder(out_dir) as stage, MeshRenderer(args.renderer) as renderer:
        writer = RunWriter(stage, info, source.stem, faces, options, renderer, stride=args.stride, times=times)
        write_run(pipeline, source, writer, stage, renderer, args, models.predictors[models.main_kind], times,
                  on_frame)
        if view is not None and view.people:
            _write_view(stage, view, faces, renderer)
    files = {name: out_dir / name for name in stage.names}
    result = _result(kind, out_dir, files, args, view, frames, time.perf_counter() - start)
    for model_kind, predictor in models.predictors.items():  # the predictors time their crops, network, mapping
        seconds_before, calls_before = before[model_kind]  # (jobs run at the same time count in each other's)
        for name, seconds in predictor.times.seconds.items():
            if predictor.times.calls[name] > calls_before.get(name, 0):
                times.add(name, seconds - seconds_before.get(name, 0.0))
    result.stage_seconds = times.line()
    return result


def _pick_view(view: FrameOutput | None, out: FrameOutput, wanted: int | None) -> FrameOutput | None:
    """The frame shown in 3D, given the frames so far: the first with people at or after the video frame index
    ``wanted``, else the first with people (else the first frame)."""
    if view is None or (not view.people and out.people):
        return out
    if out.people and wanted is not None and view.frame.key < wanted <= out.frame.key:
        return out
    return view


def _write_view(stage: StagedFolder, view: FrameOutput, faces: dict[str, np.ndarray],
                renderer: MeshRenderer) -> None:
    """``scene_<frame>.glb`` (every person's mesh in its track colour) and ``side_<frame>.jpg`` (the side view)."""
    people = [p.result for p in view.people]
    meshes = [(*person_mesh(p, faces[p.kind]), tuple(255.0 * c for c in track_color(p.track_id))) for p in people]
    tag = frame_tag(view.frame.key)
    stage.write(f"scene_{tag}.glb", scene_glb_bytes(meshes, [person_tag(p) for p in people]))
    width = view.frame.image.shape[1]
    stage.write(f"side_{tag}.jpg", encode_jpg(overlay_image(renderer, view, faces, True)[:, width:]))


def _result(kind: str, out_dir: Path, files: dict[str, Path], args: argparse.Namespace, view: FrameOutput | None,
            frames: int, seconds: float) -> JobResult:
    shown = view is not None and bool(view.people)
    tag = frame_tag(view.frame.key) if shown else None
    if kind == "image":
        overlay = files[f"rendered_mesh_{args.stage}.jpg"]
    else:
        overlay = next(p for n, p in files.items() if "_overlay." in n)
    downloads = [files[n] for n in ("results.npz", "results.json") if n in files]
    downloads += [p for n, p in sorted(files.items()) if n.endswith(".obj") and "/" not in n]
    downloads += [p for n, p in sorted(files.items()) if n.endswith(".npz") and n != "results.npz" and "/" not in n]
    if shown:
        downloads.append(files[f"scene_{tag}.glb"])
    meshes = sorted(n for n in files if n.startswith("meshes/"))
    if meshes:
        zipped = out_dir / "meshes.zip"
        with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in meshes:
                archive.write(files[name], name)
        downloads.append(zipped)
    if kind == "video":
        downloads.append(overlay)
    return JobResult(kind=kind, out_dir=out_dir, files=files, overlay=overlay,
                     scene=files[f"scene_{tag}.glb"] if shown else None, side=files[f"side_{tag}.jpg"] if shown
                     else None, downloads=downloads, view_key=view.frame.key if shown else None, frames=frames,
                     people=len(view.people) if shown else 0, seconds=seconds)
