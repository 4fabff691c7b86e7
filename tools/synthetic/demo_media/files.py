"""The demo media files: the video, its COCO detections and keypoints, and a small image folder with its boxes.

Written into ``out_dir`` (the committed copies live in demo/):

* ``input_video.mp4``: the 16 frames of :func:`~tools.synthetic.demo_media.scene.make_demo_video` (320 x 240,
  30 frames/s), H.264 through :class:`common.utils.video_out.VideoWriter` (VP9 ``.webm`` where PyAV has no libx264).
* ``input_video_bbox.json``: COCO detection results, one entry per visible person per frame,
  ``{"image_id": frame index, "category_id": 1, "bbox": [x, y, w, h], "score": 1.0}``.
* ``input_video_keypoints.json``: COCO keypoint results, ``{"image_id", "category_id": 1, "keypoints": [x1, y1, v1,
  ..., x17, y17, v17], "score": 1.0, "bbox"}``; a keypoint outside the image is written as 0, 0, 0 (COCO's "not
  labelled"), v is 1 where another person hides it and 2 where it is seen.
* ``input_folder/frame_000.jpg``, ``frame_009.jpg``, ``frame_015.jpg`` (the frames of :data:`FOLDER_FRAMES`) and
  ``notes.txt``, a file that is not an image (the demo skips it); ``input_folder_bbox.json``: their detections,
  ``image_id`` the file's base name.

Entries are ordered by frame, then by person; numbers are rounded to 0.01 px, so the JSON bytes are the same on
every run.  Each file is written atomically.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from common.utils.io import atomic_write_bytes
from common.utils.video_out import VideoWriter
from common.utils.vis import encode_jpg
from tools.make_demo_input import JPEG_QUALITY, model_dir_or_synthetic
from tools.synthetic.demo_media.scene import DemoVideo, make_demo_video

FOLDER_FRAMES = (0, 9, 15)  # two people; two, one of them half out of the image; one person
FOLDER_NOTE = ("Not an image: the demo skips this file with a warning.  The JPEGs are frames 0, 9 and 15 of\n"
               "input_video.mp4, made by tools/synthetic/demo_media (python -m tools.synthetic.demo_media).\n")


def _rounded(values) -> list[float]:
    return [round(float(v), 2) for v in values]


def _image_ids(video: DemoVideo, image_ids: Mapping[int, int | str] | None) -> Mapping[int, int | str]:
    return {t: t for t in range(len(video.frames))} if image_ids is None else image_ids


def detection_results(video: DemoVideo, image_ids: Mapping[int, int | str] | None = None) -> list[dict]:
    """COCO detection results of the frames in ``image_ids`` (frame index -> image_id; default every frame, keyed by
    its index): one entry per visible person, in frame then person order."""
    return [{"image_id": image_id, "category_id": 1, "bbox": _rounded(video.boxes[t, p]), "score": 1.0}
            for t, image_id in _image_ids(video, image_ids).items() for p in video.people_in_frame(t)]


def keypoint_results(video: DemoVideo, image_ids: Mapping[int, int | str] | None = None) -> list[dict]:
    """COCO keypoint results (17 keypoints, x, y, v flattened) in the order of :func:`detection_results`."""
    entries = []
    for t, image_id in _image_ids(video, image_ids).items():
        for p in video.people_in_frame(t):
            kps = video.keypoints[t, p].copy()
            kps[kps[:, 2] == 0] = 0.0  # outside the image: COCO's "not labelled"
            flat = [int(v) if k % 3 == 2 else round(float(v), 2) for k, v in enumerate(kps.reshape(-1))]
            entries.append({"image_id": image_id, "category_id": 1, "keypoints": flat, "score": 1.0,
                            "bbox": _rounded(video.boxes[t, p])})
    return entries


def json_bytes(entries: list[dict]) -> bytes:
    """A JSON list with one entry per line (readable in a diff, and the same bytes on every run)."""
    return ("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n").encode()


def folder_image_name(frame: int) -> str:
    """File name of video frame ``frame`` in the image folder."""
    return f"frame_{frame:03d}.jpg"


def write_demo_media(out_dir: str | Path, human_model_dir: str | Path | None = None,
                     video: DemoVideo | None = None) -> dict[str, Path]:
    """Render the demo video (or take ``video``, already rendered) and write the demo media into ``out_dir``.

    ``human_model_dir``: SMPL-format model files; None: the synthetic ones of seed 0, written to a temporary folder.
    Returns the paths by key: ``video``, ``video_bbox``, ``video_keypoints``, ``folder``, ``folder_bbox``.
    """
    out_dir = Path(out_dir)
    if video is None:
        with model_dir_or_synthetic(human_model_dir) as model_dir:
            video = make_demo_video(model_dir)
    with VideoWriter(out_dir / "input_video.mp4", video.fps) as writer:
        for frame in video.frames:
            writer.write(frame)
    paths = {"video": writer.path,
             "video_bbox": atomic_write_bytes(out_dir / "input_video_bbox.json",
                                              json_bytes(detection_results(video))),
             "video_keypoints": atomic_write_bytes(out_dir / "input_video_keypoints.json",
                                                   json_bytes(keypoint_results(video)))}
    folder = out_dir / "input_folder"
    names = {t: folder_image_name(t) for t in FOLDER_FRAMES}
    for t, name in names.items():
        atomic_write_bytes(folder / name, encode_jpg(video.frames[t], JPEG_QUALITY))
    atomic_write_bytes(folder / "notes.txt", FOLDER_NOTE.encode())
    paths["folder"] = folder
    paths["folder_bbox"] = atomic_write_bytes(out_dir / "input_folder_bbox.json",
                                              json_bytes(detection_results(video, names)))
    return paths

