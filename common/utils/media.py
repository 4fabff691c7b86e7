"""Reading the demo's inputs: one photo, the images of a folder, the frames of a video (docs/media.md).

Every frame comes out as a :class:`Frame`: an upright (H, W, 3) uint8 RGB image and its key (the video frame index
from 0, the file name for a folder, 0 for a single image).  Photos are turned by their EXIF orientation and videos by
their display rotation, so that the image is the one a phone or a browser shows.  Videos are decoded with PyAV one
frame at a time: memory does not grow with the length of the video.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from common.errors import UserError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
EXIF_IFD = 0x8769  # pointer from IFD0 to the Exif sub-IFD
EXIF_FOCAL_35MM = 0xA405  # FocalLengthIn35mmFilm, millimetres of a 36 x 24 mm frame
_REENCODE = "re-encode it (e.g. ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4) or pass another file"


class MediaError(UserError, ValueError):
    """An input image, folder or video that cannot be read; the message names it and says what to do."""


@dataclass
class Frame:
    """One input frame.

    key: the video frame index from 0 (absolute in the file), the file name with its extension for a folder, 0 for
    a single image.  image: (H, W, 3) uint8 RGB, upright.  time_s: presentation time in seconds (videos, else None).
    focal_35mm: EXIF FocalLengthIn35mmFilm in millimetres (photos that have it, else None).
    """

    key: int | str
    image: np.ndarray
    time_s: float | None = None
    focal_35mm: float | None = None


@dataclass
class VideoInfo:
    """What :func:`probe_video` found.  width, height: pixels of the upright frames (after the rotation).
    frame_count: from the container's frame table where it has one (``frame_count_exact``), else estimated from
    the duration and the frame rate.  rotation_deg: clockwise turn applied to the stored frames (0, 90, 180, 270)."""

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int
    rotation_deg: int
    frame_count_exact: bool = True


# ----- images ----------------------------------------------------------------------------------------------------

def _focal_35mm(exif) -> float | None:
    """FocalLengthIn35mmFilm from the Exif sub-IFD (some writers put it in IFD0), or None when absent or zero."""
    value = exif.get_ifd(EXIF_IFD).get(EXIF_FOCAL_35MM, exif.get(EXIF_FOCAL_35MM))
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def read_image(path: str | Path) -> Frame:
    """Read a photo as an upright RGB image (EXIF orientation applied), key 0, with its 35 mm focal if tagged."""
    from PIL import Image, ImageOps

    path = Path(path)
    try:
        with Image.open(path) as im:
            focal = _focal_35mm(im.getexif())
            upright = ImageOps.exif_transpose(im)
            image = np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError as exc:
        raise MediaError(f"{path}: no such image; check the path") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow: unknown format, truncated data, broken headers
        raise MediaError(f"{path}: not a readable image ({exc}); pass a JPEG/PNG/BMP/WebP/TIFF file") from exc
    return Frame(key=0, image=np.ascontiguousarray(image), focal_35mm=focal)


def _natural_key(name: str) -> tuple:
    """Sort key: runs of digits compare as numbers (frame2 before frame10), then the plain name breaks ties."""
    parts = re.split(r"(\d+)", name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def list_images(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """The images of ``folder`` (not recursive) in natural name order, and the skipped entries in the same order.

    An image is a file with one of :data:`IMAGE_SUFFIXES` (any case) whose name does not start with a dot (hidden
    files such as macOS's ``._IMG.jpg`` are not images).  Everything else, subfolders included, is skipped; the caller
    prints one warning line naming them.  A missing folder or one without images raises :class:`MediaError`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MediaError(f"{folder}: no such folder; pass a folder of images")
    images, skipped = [], []
    for entry in sorted(folder.iterdir(), key=lambda p: _natural_key(p.name)):
        is_image = entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES and not entry.name.startswith(".")
        (images if is_image else skipped).append(entry)
    if not images:
        raise MediaError(f"{folder}: no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))} files); "
                         f"pass a folder that holds images")
    return images, skipped


# ----- videos ----------------------------------------------------------------------------------------------------

def rotate_upright(image: np.ndarray, rotation_deg: int) -> np.ndarray:
    """Turn ``image`` (H, W, C) clockwise by ``rotation_deg`` (a multiple of 90), contiguous."""
    if rotation_deg % 90:
        raise ValueError(f"rotation {rotation_deg} is not a multiple of 90 degrees")
    return np.ascontiguousarray(np.rot90(image, k=-(rotation_deg // 90) % 4))


def _clockwise_rotation(frame, stream) -> int:
    """Clockwise degrees that make ``frame`` upright: its display matrix (PyAV's ``frame.rotation`` is the
    counter-clockwise angle, 0 without one), else the stream's legacy ``rotate`` tag (clockwise), rounded to 90."""
    ccw = frame.rotation
    if ccw:
        return int(round(-ccw / 90.0)) * 90 % 360
    try:
        return int(round(float(stream.metadata.get("rotate", 0)) / 90.0)) * 90 % 360
    except ValueError:
        return 0


def _open_video(path: Path):
    """The opened container and its first video stream; :class:`MediaError` for anything unreadable."""
    import av

    if not path.is_file():
        raise MediaError(f"{path}: no such video file; check the path")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"{path}: not a readable video ({exc}); {_REENCODE}") from exc
    if not container.streams.video:
        container.close()
        raise MediaError(f"{path}: has no video stream with frames; pass a video file")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _frame_rate(stream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return 30.0


def _duration_s(container, stream) -> float | None:
    """The video stream's duration in seconds, or the container's when the video is its only stream."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration and len(container.streams) == 1:
        return container.duration / 1_000_000  # microseconds (AV_TIME_BASE)
    return None


def _damaged(path: Path, last_good: int, why: str) -> MediaError:
    where = f"after frame {last_good}" if last_good >= 0 else "before its first frame"
    return MediaError(f"{path}: the video is damaged {where} ({why}): it is truncated or corrupt; {_REENCODE}")


def _decode(path: Path, container, stream) -> Iterator:
    """The decoded frames of ``stream`` in order; damage (a decoder error, a corrupt frame, or fewer frames than the
    container declares) raises :class:`MediaError` naming the last good frame index after the good ones."""
    import av

    count, end_time = 0, None
    try:
        for packet in container.demux(stream):
            for frame in stream.decode(packet):
                if frame.is_corrupt:
                    raise _damaged(path, count - 1, f"frame {count} is corrupt")
                if frame.time is not None:
                    shown = frame.duration * frame.time_base if frame.duration and frame.time_base else 0.0
                    end_time = frame.time + float(shown or 1.0 / _frame_rate(stream))
                yield frame
                count += 1
    except av.FFmpegError as exc:
        raise _damaged(path, count - 1, str(exc)) from exc
    if count == 0:
        raise MediaError(f"{path}: the video has no frames; pass a video with at least one frame")
    # A file cut short decodes without an error when the cut falls between packets: it then ends early against
    # what its header declares.  Both the frame count and the duration must say so where both are known, since an
    # edit list can drop counted frames and a variable frame rate can make the end time fuzzy.
    duration = _duration_s(container, stream)
    short = []
    if stream.frames:
        short.append(count < stream.frames)
    if duration is not None and end_time is not None:
        start_s = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
        short.append(end_time - start_s + 1.0 / _frame_rate(stream) < duration)
    if short and all(short):
        declared = ", ".join(([f"{stream.frames} frames"] if stream.frames else [])
                             + ([f"{duration:.3f} s"] if duration is not None else []))
        raise _damaged(path, count - 1, f"{count} frames decoded of the {declared} it declares")


def probe_video(path: str | Path) -> VideoInfo:
    """Open ``path``, decode its first frame and describe it; :class:`MediaError` if it is missing, unreadable, has
    no video stream or no frame."""
    import av

    path = Path(path)
    container, stream = _open_video(path)
    try:
        try:
            first = next(iter(container.decode(stream)), None)
        except av.FFmpegError as exc:
            raise _damaged(path, -1, str(exc)) from exc
        if first is None:
            raise MediaError(f"{path}: the video has no frames; pass a video with at least one frame")
        rotation = _clockwise_rotation(first, stream)
        fps = _frame_rate(stream)
        width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
        exact = bool(stream.frames)
        if exact:
            frame_count = stream.frames
        else:
            duration = _duration_s(container, stream)
            frame_count = max(1, round(duration * fps)) if duration else 1
        return VideoInfo(path, width, height, fps, frame_count, rotation, exact)
    finally:
        container.close()


def check_range(start: int, end: int | None, stride: int) -> None:
    """:class:`MediaError` unless 0 <= start, start < end (when given) and stride >= 1."""
    if start < 0:
        raise MediaError(f"--start {start}: must be a frame index >= 0")
    if end is not None and end <= start:
        raise MediaError(f"--end {end}: must be greater than --start {start}")
    if stride < 1:
        raise MediaError(f"--stride {stride}: must be at least 1")


def iter_video(path: str | Path, start: int = 0, end: int | None = None, stride: int = 1) -> Iterator[Frame]:
    """Decode ``path`` from its beginning and yield the upright frames whose index i (from 0, over the decoded
    frames) has start <= i < end and (i - start) % stride == 0, with ``time_s`` their presentation time.

    Frames are decoded one at a time (frames before ``start`` are decoded and dropped, not converted).  A damaged
    file yields the frames decoded before the damage, then raises :class:`MediaError` naming the last good index;
    damage after ``end`` is not seen.
    """
    path = Path(path)
    check_range(start, end, stride)
    container, stream = _open_video(path)
    frames = _decode(path, container, stream)
    try:
        for index, frame in enumerate(frames):
            if end is not None and index >= end:
                break
            if index < start or (index - start) % stride:
                continue
            image = rotate_upright(frame.to_ndarray(format="rgb24"), _clockwise_rotation(frame, stream))
            time_s = float(frame.time) if frame.time is not None else index / _frame_rate(stream)
            yield Frame(key=index, image=image, time_s=time_s)
    finally:
        frames.close()
        container.close()
