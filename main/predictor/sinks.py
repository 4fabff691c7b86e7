"""What a run writes, frame by frame, into a staging folder moved into place at the end (docs/results.md):
overlays (one JPEG per image, or one video), mesh files, ``results.npz`` / ``results.json`` and one animation
file per track."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from common.utils.io import StagedFolder
from common.utils.stopwatch import StageTimes
from common.utils.video_out import VideoWriter, video_suffix
from common.utils.vis import SIDE_VIEW_BACKGROUND, MeshRenderer, encode_jpg, side_view
from main.predictor.mesh_files import animation_bytes, mesh_bytes, scene_glb_bytes
from main.predictor.pipeline import FrameOutput
from main.predictor.results import FrameResult, PersonResult, RunInfo, results_files

# one colour per track id (RGB in [0, 1]), distinct at a glance and light enough for the shading to show
TRACK_COLORS = ((0.95, 0.95, 0.85), (0.55, 0.75, 1.0), (1.0, 0.6, 0.5), (0.6, 0.95, 0.6), (1.0, 0.85, 0.45),
                (0.85, 0.6, 1.0), (0.5, 0.95, 0.95), (1.0, 0.65, 0.85))
UNTRACKED_COLOR = (0.7, 0.7, 0.7)


def track_color(track_id: int) -> tuple[float, float, float]:
    """The overlay colour of a track (RGB in [0, 1]); hands without a body get grey."""
    return UNTRACKED_COLOR if track_id < 0 else TRACK_COLORS[track_id % len(TRACK_COLORS)]


def person_mesh(person: PersonResult, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mesh shown for a person: the param mesh where there is one, else the lixel mesh (camera metres), with
    the faces wound for its side (a left hand's mirrored mesh has them reversed)."""
    verts = person.mesh_param_cam if person.mesh_param_cam is not None else person.mesh_lixel_cam
    return verts, (faces[:, ::-1] if person.is_right is False else faces)


def overlay_image(renderer: MeshRenderer, out: FrameOutput, faces: dict[str, np.ndarray],
                  with_side_view: bool) -> np.ndarray:
    """(H, W, 3) uint8 RGB: the frame with every person's mesh in its track colour; with the side view, (H, 2W, 3)
    with the side rendering to the right."""
    people = [p.result for p in out.people]
    scene = [person_mesh(p, faces[p.kind]) for p in people]
    colors = [track_color(p.track_id) for p in people]
    cam = out.camera
    image = renderer.render(scene, cam.focal, cam.princpt, out.frame.image, colors).image
    if not with_side_view:
        return image
    background = np.zeros_like(out.frame.image) + np.array(SIDE_VIEW_BACKGROUND, dtype=np.uint8)
    side = renderer.render(side_view(scene), cam.focal, cam.princpt, background, colors).image
    return np.concatenate([image, side], axis=1)


@dataclass
class OutputOptions:
    """``save_mesh`` / ``mesh_format`` (obj, ply, glb); ``side_view``; ``overlay``: write overlays (folders and
    videos)."""

    save_mesh: bool = False
    mesh_format: str = "obj"
    side_view: bool = False
    overlay: bool = True


def frame_tag(key: int | str) -> str:
    """A frame's name in file names: ``frame_000123`` (videos) or the image's stem."""
    return f"frame_{key:06d}" if isinstance(key, int) else Path(key).stem


def person_tag(person: PersonResult) -> str:
    side = "" if person.is_right is None else ("_right" if person.is_right else "_left")
    return f"{person.kind}{person.track_id}{side}"


class RunWriter:
    """Writes one run's outputs into ``stage``: call :meth:`add` per frame, then :meth:`finish` once."""

    def __init__(self, stage: StagedFolder, info: RunInfo, stem: str, faces: dict[str, np.ndarray],
                 options: OutputOptions, renderer: MeshRenderer, stride: int = 1,
                 times: StageTimes | None = None) -> None:
        self.stage, self.info, self.stem, self.faces = stage, info, stem, faces
        self.times = times or StageTimes()
        self.rate = (info.fps or 30.0) / max(1, stride)  # frames per second of the processed frames
        self.options, self.renderer = options, renderer
        self.frames: list[FrameResult] = []
        self.video: VideoWriter | None = None

    def add(self, out: FrameOutput) -> None:
        people = [p.result for p in out.people]
        if self.options.overlay and self.info.input_kind != "image":
            self._write_overlay(out)
        if self.options.save_mesh:
            with self.times("mesh files"):
                self._write_meshes(out.frame.key, people)
        if not self.options.save_mesh:  # the results keep meshes only when asked, so memory stays small
            people = [replace(p, mesh_lixel_cam=None, mesh_param_cam=None) for p in people]
        self.frames.append(FrameResult(out.frame.key, out.camera.focal, out.camera.princpt, people))

    def _write_overlay(self, out: FrameOutput) -> None:
        with self.times("render"):
            image = overlay_image(self.renderer, out, self.faces, self.options.side_view)
        with self.times("encode"):
            if self.info.input_kind == "folder":
                self.stage.write(f"{frame_tag(out.frame.key)}_overlay.jpg", encode_jpg(image))
                return
            if self.video is None:
                self.video = VideoWriter(self.stage.path(f"{self.stem}_overlay{video_suffix()}"), self.rate)
            self.video.write(image)

    def _write_meshes(self, key: int | str, people: Sequence[PersonResult]) -> None:
        tag = frame_tag(key)
        meshes = [(*person_mesh(p, self.faces[p.kind]), p) for p in people]
        if self.options.mesh_format == "glb":
            if meshes:
                scene = [(v, f, tuple(255.0 * c for c in track_color(p.track_id))) for v, f, p in meshes]
                self.stage.write(f"meshes/{tag}.glb", scene_glb_bytes(scene, [person_tag(p) for *_, p in meshes]))
            return
        for verts, faces, person in meshes:
            self.stage.write(f"meshes/{tag}_{person_tag(person)}.{self.options.mesh_format}",
                             mesh_bytes(verts, faces, self.options.mesh_format))

    def finish(self) -> None:
        """The results files, the per-track animations and the overlay video (closed and kept)."""
        if self.video is not None:
            with self.times("encode"):
                self.video.commit()
        for name, data in results_files(self.frames, self.info, self.options.save_mesh).items():
            self.stage.write(name, data)
        if self.info.input_kind == "video" and self.info.stage == "param":
            for name, data in self._animations().items():
                self.stage.write(name, data)

    def abort(self) -> None:
        if self.video is not None:
            self.video.abort()

    def _animations(self) -> dict[str, bytes]:
        tracks: dict[tuple, list[tuple[int, PersonResult]]] = {}
        for frame in self.frames:
            for p in frame.people:
                if p.pose is not None and p.track_id >= 0:
                    tracks.setdefault((p.kind, p.track_id, p.is_right), []).append((int(frame.key), p))
        files = {}
        for (kind, track_id, is_right), rows in sorted(tracks.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                                        kv[0][2] is False)):
            people = [p for _, p in rows]
            files[f"{self.stem}_{person_tag(people[0])}.npz"] = animation_bytes(
                np.stack([p.pose for p in people]), np.stack([p.trans for p in people]),
                np.mean([p.shape for p in people], axis=0), self.rate,
                np.array([k for k, _ in rows]), "smpl" if kind == "body" else "mano", is_right)
        return files
