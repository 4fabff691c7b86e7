"""The demo's input: one image, the images of a folder or a video, opened and checked before any model is built
(docs/media.md)."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from common.utils.media import Frame, MediaError, check_range, iter_video, list_images, probe_video, read_image
from main.predictor.errors import DemoError


@dataclass
class InputSource:
    """``kind`` "image" / "folder" / "video"; ``path``; ``stem`` (names the video's outputs); ``fps`` (videos);
    ``keys`` the frame keys known ahead (file names of a folder; None for videos); ``frame_count`` (videos, may be
    estimated: ``frame_count_exact``); ``frames()`` yields the frames to process, in order."""

    kind: str
    path: Path
    stem: str
    frames: Callable[[], Iterator[Frame]]
    fps: float | None = None
    keys: list = field(default_factory=list)
    frame_count: int | None = None
    frame_count_exact: bool = True
    expected_frames: int | None = None


def open_input(args: argparse.Namespace, kind: str) -> InputSource:
    """Open ``--img`` / ``--img_dir`` / ``--video``: a clear error now for a missing, unreadable or empty input."""
    try:
        if kind == "image":
            frame = read_image(args.img)
            frame.key = 0
            return InputSource("image", Path(args.img), Path(args.img).stem, lambda: iter([frame]), keys=[0],
                               expected_frames=1)
        if kind == "folder":
            paths, skipped = list_images(args.img_dir)
            _check_stems(paths, Path(args.img_dir))
            if skipped:
                print(f"warning: {len(skipped)} file(s) in {args.img_dir} skipped (not images by their extension): "
                      + ", ".join(p.name for p in skipped[:5]) + (" ..." if len(skipped) > 5 else ""))
            return InputSource("folder", Path(args.img_dir), Path(args.img_dir).name, lambda: _folder(paths),
                               keys=[p.name for p in paths], expected_frames=len(paths))
        check_range(args.start, args.end, args.stride)
        info = probe_video(args.video)
    except MediaError as exc:
        raise DemoError(f"--{ {'image': 'img', 'folder': 'img_dir', 'video': 'video'}[kind]}: {exc}") from exc
    if args.start >= info.frame_count and info.frame_count_exact:
        raise DemoError(f"--start {args.start}: the video {args.video} has {info.frame_count} frames (0 to "
                        f"{info.frame_count - 1})")
    end = info.frame_count if args.end is None else min(args.end, info.frame_count)
    expected = max(0, -(-(end - args.start) // args.stride))
    return InputSource("video", Path(args.video), Path(args.video).stem,
                       lambda: iter_video(args.video, args.start, args.end, args.stride), fps=info.fps,
                       keys=None, frame_count=info.frame_count, frame_count_exact=info.frame_count_exact,
                       expected_frames=expected)


def _check_stems(paths: list[Path], folder: Path) -> None:
    """Outputs are named by the image's stem: two images of one stem (a.jpg, a.png) would write the same files."""
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise DemoError(f"--img_dir {folder}: {seen[path.stem].name} and {path.name} would both write "
                            f"{path.stem}_overlay.jpg; rename one of them")
        seen[path.stem] = path


def _folder(paths: list[Path]) -> Iterator[Frame]:
    for path in paths:
        frame = read_image(path)
        frame.key = path.name
        yield frame


def check_table_keys(table: dict, source: InputSource, flag: str, path: Path) -> None:
    """Entries of a detections/keypoints file that cannot belong to the input: an error for a video frame index
    outside the video, a warning for file names not in the folder (ignored)."""
    if source.kind == "image":
        return
    if source.kind == "video":
        bad = [k for k in table if not isinstance(k, int) or k < 0]
        if bad:
            raise DemoError(f"{flag} {path}: image_id {bad[0]!r} is not a frame index; for a video, image_id is the "
                            f"frame index from 0")
        beyond = sorted(k for k in table if k >= (source.frame_count or 0))
        if beyond and source.frame_count_exact:
            raise DemoError(f"{flag} {path}: image_id {beyond[0]} lies beyond the video {source.path}, which has "
                            f"{source.frame_count} frames (0 to {source.frame_count - 1}); is it the file of "
                            f"another video?")
        return
    unknown = sorted(str(k) for k in table if k not in set(source.keys))
    if unknown:
        print(f"warning: {flag} {path}: {len(unknown)} image_id(s) name no image of {source.path} and are ignored: "
              + ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else ""))
