"""Tests for common/utils/video_out.py: browser-playable encoding, even sizes, temporaries
(docs/media.md#overlay-video).

Videos are read back with PyAV directly (not with common/utils/media.py), and the file's top-level MP4 boxes are
walked by hand to see where the index ('moov') lies.
"""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from common.utils.io import parse_temporary_name
from common.utils.video_out import VideoWriter, pad_to_even, video_suffix

COLOURS = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (220, 220, 60)]  # one solid colour per frame


def write_colours(path: Path, codec: str, width: int = 321, height: int = 241) -> Path:
    with VideoWriter(path, 25.0, codec) as writer:
        for colour in COLOURS:
            writer.write(np.full((height, width, 3), colour, np.uint8))
    assert writer.frame_count == len(COLOURS)
    return writer.path


def read_back(path: Path) -> tuple[str, str, float, list[np.ndarray]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return stream.codec_context.name, stream.codec_context.pix_fmt, float(stream.average_rate), frames


def top_level_boxes(data: bytes) -> list[bytes]:
    boxes, at = [], 0
    while at + 8 <= len(data):
        boxes.append(data[at + 4:at + 8])
        at += int.from_bytes(data[at:at + 4], "big")
    return boxes


@pytest.mark.parametrize("codec, suffix, name", [("h264", ".mp4", "h264"), ("vp9", ".webm", "vp9")])
def test_odd_frames_encode_to_even_yuv420p(tmp_path, codec, suffix, name):
    path = write_colours(tmp_path / "out.mp4", codec)
    assert path == tmp_path / f"out{suffix}"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left
    codec_name, pix_fmt, fps, frames = read_back(path)
    assert (codec_name, pix_fmt, fps) == (name, "yuv420p", 25.0)
    assert len(frames) == len(COLOURS)
    for frame, colour in zip(frames, COLOURS):
        assert frame.shape == (242, 322, 3)
        assert np.abs(frame.astype(int) - colour).max() <= 8  # padding repeats the edge: even its row is the colour


def test_auto_prefers_h264_and_mp4_index_comes_first(tmp_path):
    with VideoWriter(tmp_path / "a.mp4", 30.0) as writer:
        writer.write(np.zeros((16, 16, 3), np.uint8))
    assert writer.codec_name == "h264" and writer.path.suffix == ".mp4"
    assert (video_suffix(), video_suffix("h264"), video_suffix("vp9")) == (".mp4", ".mp4", ".webm")
    boxes = top_level_boxes(writer.path.read_bytes())
    assert boxes.index(b"moov") < boxes.index(b"mdat")  # playable while it downloads


def test_pad_to_even_repeats_the_edge():
    image = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3)
    padded = pad_to_even(image)
    assert padded.shape == (4, 6, 3)
    assert np.array_equal(padded[:3, :5], image)
    assert np.array_equal(padded[3, :5], image[2]) and np.array_equal(padded[:3, 5], image[:, 4])
    assert pad_to_even(padded) is padded


def test_temporary_until_commit(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"old")
    writer = VideoWriter(tmp_path / "v.mp4", 30.0, "h264")
    writer.write(np.zeros((8, 8, 3), np.uint8))
    temporaries = [p for p in tmp_path.iterdir() if p.name != "v.mp4"]
    assert len(temporaries) == 1
    fields = parse_temporary_name(temporaries[0].name)  # so remove_stale_temporaries can clean a killed run's file
    assert fields is not None and fields.target == "v.mp4"
    assert (tmp_path / "v.mp4").read_bytes() == b"old"
    assert writer.commit() == tmp_path / "v.mp4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]
    assert read_back(tmp_path / "v.mp4")[0] == "h264"


def test_abort_and_exception_leave_nothing(tmp_path):
    writer = VideoWriter(tmp_path / "a.mp4", 30.0)
    writer.write(np.zeros((8, 8, 3), np.uint8))
    writer.abort()
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(KeyError):
        with VideoWriter(tmp_path / "b.mp4", 30.0) as writer:
            writer.write(np.zeros((8, 8, 3), np.uint8))
            raise KeyError("stop")
    assert list(tmp_path.iterdir()) == []


def test_bad_use_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no frame"):
        VideoWriter(tmp_path / "empty.mp4", 30.0).commit()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="first frame's size"):
        with VideoWriter(tmp_path / "sizes.mp4", 30.0) as writer:
            writer.write(np.zeros((8, 8, 3), np.uint8))
            writer.write(np.zeros((8, 10, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="codec"):
        VideoWriter(tmp_path / "x.mp4", 30.0, codec="mpeg4")
