"""Tests for common/utils/media.py: photos (EXIF orientation and focal), folders, videos (docs/media.md#inputs).

Expected images are built independently: the eight EXIF orientations as NumPy flips and turns of a block picture,
videos whose frame i is a solid grey of level 20 i (so a decoded frame tells its own index), and a display rotation
written with PyAV's own setter.
"""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from common.utils.media import (
    MediaError,
    iter_video,
    list_images,
    probe_video,
    read_image,
    rotate_upright,
)
from common.utils.video_out import VideoWriter

# what a viewer does to the stored pixels for each EXIF orientation (TIFF/EXIF definitions)
DISPLAY = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],                         # mirrored left-right
    3: lambda a: a[::-1, ::-1],                      # turned 180
    4: lambda a: a[::-1],                            # mirrored top-bottom
    5: lambda a: a.transpose(1, 0, 2),               # mirrored about the main diagonal
    6: lambda a: np.rot90(a, -1),                    # turned 90 clockwise
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),   # mirrored about the other diagonal
    8: lambda a: np.rot90(a, 1),                     # turned 90 counter-clockwise
}
INVERSE = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}


def block_picture(rows: int = 2, cols: int = 3, block: int = 16) -> np.ndarray:
    """(rows x block, cols x block, 3) uint8 of solid blocks, every block a different colour."""
    colours = np.array([[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20], [20, 230, 230], [230, 20, 230]])
    grid = colours[:rows * cols].reshape(rows, cols, 3).astype(np.uint8)
    return np.repeat(np.repeat(grid, block, axis=0), block, axis=1)


def save_jpeg(path: Path, pixels: np.ndarray, orientation: int | None = None, focal_35mm: int | None = None):
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if focal_35mm is not None:
        exif.get_ifd(0x8769)[0xA405] = focal_35mm
    Image.fromarray(pixels).save(path, quality=95, subsampling=0, exif=exif)  # 4:4:4: sharp colour edges


def write_grey_video(path: Path, n: int, size=(64, 48), codec="h264") -> Path:
    """n frames of size (W, H); frame i a solid grey of level 20 i."""
    with VideoWriter(path, 30.0, codec) as writer:
        for i in range(n):
            writer.write(np.full((size[1], size[0], 3), 20 * i, np.uint8))
    return writer.path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_read_image_applies_each_exif_orientation(tmp_path, orientation):
    upright = block_picture()
    stored = np.ascontiguousarray(DISPLAY[INVERSE[orientation]](upright))
    assert np.array_equal(DISPLAY[orientation](stored), upright)  # the table is consistent
    save_jpeg(tmp_path / "p.jpg", stored, orientation)
    frame = read_image(tmp_path / "p.jpg")
    assert frame.key == 0 and frame.image.dtype == np.uint8 and frame.image.shape == upright.shape
    assert np.abs(frame.image.astype(int) - upright).mean() < 4  # JPEG noise only; a wrong turn is ~100


def test_read_image_focal_tag(tmp_path):
    save_jpeg(tmp_path / "tagged.jpg", block_picture(), focal_35mm=28)
    save_jpeg(tmp_path / "plain.jpg", block_picture())
    assert read_image(tmp_path / "tagged.jpg").focal_35mm == 28.0
    assert read_image(tmp_path / "plain.jpg").focal_35mm is None


def test_read_image_bad_files(tmp_path):
    save_jpeg(tmp_path / "p.jpg", block_picture(block=64))
    data = (tmp_path / "p.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 2])
    (tmp_path / "text.jpg").write_text("not an image")
    for name in ("cut.jpg", "text.jpg", "missing.jpg"):
        with pytest.raises(MediaError, match=name):
            read_image(tmp_path / name)


def test_list_images_natural_order_and_skipped(tmp_path):
    for name in ("b10.png", "b2.png", "a.JPG", ".hidden.jpg"):
        Image.fromarray(block_picture()).save(tmp_path / name, format="PNG")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    Image.fromarray(block_picture()).save(tmp_path / "sub" / "inner.png")
    images, skipped = list_images(tmp_path)
    assert [p.name for p in images] == ["a.JPG", "b2.png", "b10.png"]
    assert [p.name for p in skipped] == [".hidden.jpg", "notes.txt", "sub"]


def test_list_images_empty_or_missing_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(MediaError, match="no images"):
        list_images(tmp_path)
    with pytest.raises(MediaError, match="no such folder"):
        list_images(tmp_path / "nowhere")


def test_video_round_trip_keys_and_ranges(tmp_path):
    path = write_grey_video(tmp_path / "v.mp4", 12)
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.frame_count, info.rotation_deg) == (64, 48, 30.0, 12, 0)
    assert info.frame_count_exact
    frames = list(iter_video(path))
    assert [f.key for f in frames] == list(range(12))
    for f in frames:
        assert f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8
        assert abs(f.image.astype(float).mean() - 20 * f.key) < 3  # the frame behind the key
        assert f.time_s == pytest.approx(f.key / 30.0, abs=1e-3)
    for (start, end, stride), keys in {(0, None, 1): list(range(12)), (2, 9, 3): [2, 5, 8], (5, None, 4): [5, 9],
                                       (10, 40, 1): [10, 11], (0, 1, 5): [0]}.items():
        got = list(iter_video(path, start, end, stride))
        assert [f.key for f in got] == keys
        assert all(abs(f.image.astype(float).mean() - 20 * f.key) < 3 for f in got)
    with pytest.raises(MediaError, match="--stride"):
        next(iter_video(path, stride=0))


def test_webm_frame_count_is_estimated(tmp_path):
    info = probe_video(write_grey_video(tmp_path / "v.mp4", 6, codec="vp9"))
    assert info.frame_count == 6 and not info.frame_count_exact


def test_rotated_video_is_upright(tmp_path):
    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:16, :32] = 255  # white top-left block of a landscape frame
    with av.open(str(tmp_path / "r.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(-90)  # counter-clockwise -90: a player turns it 90 degrees clockwise
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    info = probe_video(tmp_path / "r.mp4")
    assert (info.width, info.height, info.rotation_deg) == (32, 64, 90)
    frames = list(iter_video(tmp_path / "r.mp4"))
    assert len(frames) == 3
    upright = frames[0].image
    assert upright.shape == (64, 32, 3)
    # turned clockwise, the top-left block lands top-right: rows 0-31, columns 16-31 of the portrait frame
    assert upright[4:28, 20:28].min() > 200 and upright[4:28, 4:12].max() < 50 and upright[36:60].max() < 50


def test_rotate_upright_on_arrays():
    a = np.arange(6).reshape(2, 3, 1)
    assert np.array_equal(rotate_upright(a, 0), a)
    assert np.array_equal(rotate_upright(a, 90)[:, :, 0], [[3, 0], [4, 1], [5, 2]])
    assert np.array_equal(rotate_upright(a, 180)[:, :, 0], [[5, 4, 3], [2, 1, 0]])
    assert np.array_equal(rotate_upright(a, 270)[:, :, 0], [[2, 5], [1, 4], [0, 3]])


def test_unreadable_and_empty_videos(tmp_path):
    (tmp_path / "text.mp4").write_text("not a video")
    # a container opened for writing and closed without frames: the MP4 keeps no video track, Matroska no cluster
    for name, fmt in (("empty.mp4", "mp4"), ("empty.mkv", "matroska")):
        with av.open(str(tmp_path / name), "w", format=fmt) as container:
            stream = container.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            container.start_encoding()
    for name in ("text.mp4", "empty.mp4", "empty.mkv", "missing.mp4"):
        with pytest.raises(MediaError, match=name):
            probe_video(tmp_path / name)
        with pytest.raises(MediaError, match=name):
            list(iter_video(tmp_path / name))


@pytest.mark.parametrize("codec", ["h264", "vp9"])
def test_truncated_video_yields_good_frames_then_fails(tmp_path, codec):
    rng = np.random.default_rng(0)  # noise frames: every frame is many bytes, so a cut lands mid-video
    with VideoWriter(tmp_path / "v.mp4", 30.0, codec) as writer:
        for _ in range(12):
            writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    data = writer.path.read_bytes()
    cut = tmp_path / f"cut{writer.path.suffix}"
    cut.write_bytes(data[:len(data) * 6 // 10])
    keys = []
    with pytest.raises(MediaError, match=cut.name) as caught:
        for frame in iter_video(cut):
            keys.append(frame.key)
    assert 0 < len(keys) < 12 and keys == list(range(len(keys)))
    assert f"after frame {keys[-1]}" in str(caught.value)
    assert [f.key for f in iter_video(cut, end=keys[-1])] == keys[:-1]  # damage after --end is not reached
