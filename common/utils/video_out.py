"""Writing a video that browsers play: H.264 (yuv420p) in MP4, else VP9 in WebM, with PyAV (docs/media.md).

MPEG-4 part 2 (FFmpeg's default ``mpeg4`` codec for .mp4) is never used: browsers do not play it.  The video is
written to a hidden temporary beside the target, named as :mod:`common.utils.io` names its temporaries (so
:func:`common.utils.io.remove_stale_temporaries` removes one left by a killed run), and moved into place by
:meth:`VideoWriter.commit`; until then the target is untouched.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from common.utils.io import current_umask, fsync_dir, open_temporary

# codec choice -> (PyAV encoder, container format, file suffix, encoder options), in the order "auto" tries them
_CODECS = {
    # crf 20: visually clean for rendered overlays; veryfast: encoding stays a small part of a CPU frame's time
    "h264": ("libx264", "mp4", ".mp4", {"crf": "20", "preset": "veryfast"}),
    # constant quality (crf with b:v 0); realtime deadline + cpu-used 8: the fastest libvpx settings
    "vp9": ("libvpx-vp9", "webm", ".webm", {"crf": "32", "b:v": "0", "deadline": "realtime", "cpu-used": "8",
                                             "row-mt": "1"}),
}
# the moov atom first: a browser starts playing before the whole file has arrived
_CONTAINER_OPTIONS = {"mp4": {"movflags": "+faststart"}, "webm": {}}


def available_encoders() -> list[str]:
    """The codec choices of :data:`_CODECS` whose encoder this PyAV build has, in preference order."""
    import av

    return [name for name, (encoder, *_) in _CODECS.items() if encoder in av.codecs_available]


def _choose(codec: str) -> str:
    """The codec choice "auto", "h264" or "vp9" resolves to here (RuntimeError where its encoder is missing)."""
    if codec not in ("auto", *_CODECS):
        raise ValueError(f"codec {codec!r}: expected 'auto', 'h264' or 'vp9'")
    choices = available_encoders()
    chosen = choices[:1] if codec == "auto" else [codec] if codec in choices else []
    if not chosen:
        raise RuntimeError(f"no {'H.264 or VP9' if codec == 'auto' else codec} encoder in this PyAV build "
                           f"(needs libx264 or libvpx-vp9); install PyAV from its wheels (pip install av)")
    return chosen[0]


def video_suffix(codec: str = "auto") -> str:
    """The suffix a :class:`VideoWriter` of ``codec`` gives its file here: ".mp4" (H.264) or ".webm" (VP9), so a
    caller can name or reserve the file before writing it."""
    return _CODECS[_choose(codec)][2]


def pad_to_even(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H + H % 2, W + W % 2, 3): yuv420p needs even sizes; the added bottom row / right column repeat
    the edge pixels, so that chroma shared with the edge keeps its colour."""
    pad_h, pad_w = image.shape[0] % 2, image.shape[1] % 2
    if not (pad_h or pad_w):
        return image
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


class VideoWriter:
    """Encode (H, W, 3) uint8 RGB frames into ``path`` at ``fps`` frames per second.

    ``codec``: "auto" (H.264 where this PyAV has libx264, else VP9), "h264" or "vp9".  With VP9 the file's suffix
    becomes ``.webm``; :attr:`path` is where the video goes.  Every frame must have the size of the first; odd sizes
    are padded to even (see :func:`pad_to_even`).  Use as a context manager (commit on success, abort on an
    exception) or call :meth:`commit` / :meth:`abort`.
    """

    def __init__(self, path: str | Path, fps: float, codec: str = "auto"):
        import av

        if not (fps > 0 and np.isfinite(fps)):
            raise ValueError(f"fps {fps}: must be a positive number")
        self.codec_name = _choose(codec)
        encoder, fmt, suffix, options = _CODECS[self.codec_name]
        self.path = Path(path).with_suffix(suffix)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = open_temporary(self.path)
        os.close(fd)  # the name is reserved (O_EXCL); FFmpeg writes the file by name
        try:
            self._container = av.open(str(self._tmp), "w", format=fmt, options=_CONTAINER_OPTIONS[fmt])
            self._rate = Fraction(fps).limit_denominator(100_000)  # 29.97 -> 30000/1001
            self._stream = self._container.add_stream(encoder, rate=self._rate)
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = dict(options)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        self._size: tuple[int, int] | None = None
        self.frame_count = 0
        self._done = False

    def write(self, frame: np.ndarray) -> None:
        """Encode one (H, W, 3) uint8 RGB frame."""
        import av

        if self._done:
            raise RuntimeError(f"{self.path}: the writer is already committed or aborted")
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame of shape {frame.shape} and type {frame.dtype}: expected (H, W, 3) uint8 RGB")
        image = np.ascontiguousarray(pad_to_even(frame))
        size = image.shape[1], image.shape[0]
        if self._size is None:
            self._size = size
            self._stream.width, self._stream.height = size
        elif size != self._size:
            raise ValueError(f"frame {self.frame_count} is {frame.shape[1]}x{frame.shape[0]}: every frame must have "
                             f"the first frame's size")
        video_frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        video_frame.pts = self.frame_count
        video_frame.time_base = 1 / self._rate
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frame_count += 1

    def commit(self) -> Path:
        """Flush the encoder, close the file and move it onto :attr:`path`; returns that path.  Without any frame
        written nothing is committed (ValueError, the temporary removed)."""
        if self._done:
            raise RuntimeError(f"{self.path}: the writer is already committed or aborted")
        if self.frame_count == 0:
            self.abort()
            raise ValueError(f"{self.path}: no frame was written, so there is no video to commit")
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            self._done = True
            with open(self._tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(self._tmp, 0o666 & ~current_umask())
            os.replace(self._tmp, self.path)
            fsync_dir(self.path.parent)
        except BaseException:
            self._done = False
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Stop and remove the temporary; the target is left as it was.  Safe to call more than once."""
        if not self._done:
            self._done = True
            try:
                self._container.close()
            except Exception:  # the file is thrown away: an encoder that cannot flush does not matter
                pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
