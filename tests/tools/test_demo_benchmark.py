"""tools/demo_benchmark.py: the benchmark's video and its timed stand-in detector."""
from __future__ import annotations

import json

import av
import numpy as np

from common.utils.stopwatch import StageTimes
from tools.demo_benchmark import SIZE, timed_detector, write_video


def test_benchmark_video_has_one_person_box_per_frame(model_dir, tmp_path):
    video, box_file, boxes = write_video(model_dir, tmp_path, 3)
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 3 and frames[0].shape == (*SIZE, 3)
    entries = json.loads(box_file.read_text())
    assert [e["image_id"] for e in entries] == [0, 1, 2]
    for t, (entry, box) in enumerate(zip(entries, boxes)):
        np.testing.assert_allclose(entry["bbox"], box)
        x, y, w, h = box
        assert 0 <= x and x + w <= SIZE[1] and 0 <= y and y + h <= SIZE[0] and h > 200  # a person 8 m away
        covered = np.abs(frames[t][int(y):int(y + h), int(x):int(x + w)].astype(int)
                         - frames[t][int(y):int(y + h), int(x):int(x + w)].mean((0, 1))).max()
        assert covered > 30  # the box holds the rendered person, not a flat background
    assert boxes[2][0] > boxes[0][0]  # walking right


def test_timed_detector_runs_the_network_and_returns_the_frames_true_box():
    boxes = [np.array([float(t), 0.0, 10.0, 20.0]) for t in range(12)]
    times = StageTimes()
    detect, calls = timed_detector("fasterrcnn_mobilenet_v3_large_320_fpn", boxes, 5, times)
    image = np.zeros((64, 80, 3), np.uint8)
    got = [detect(image)[0][0][0] for _ in range(3)]
    assert got == [0.0, 5.0, 10.0] and calls["n"] == 3  # the detector runs on frames 0, 5, 10
    assert times.calls["detect"] == 3 and times.seconds["detect"] > 0
