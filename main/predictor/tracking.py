"""People tracked over the frames of a video: box-overlap costs against each track's constant-velocity prediction,
one-to-one assignment with SciPy's ``linear_sum_assignment``, stable ids (docs/tracking_smoothing.md).

Boxes are (x, y, w, h) float pixels, top-left corner and size.  Frames are video frame indices (int, increasing);
the gap between two calls can be any number of frames (``--stride``, ``--detect_every``), the prediction scales with
it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

# A detection joins a track when the IoU of the detection with the track's predicted box is at least this.  0.3 is
# SORT's threshold: low enough that a person who speeds up, turns or is boxed a little differently by the detector
# stays matched (the prediction already absorbs steady motion), high enough that a neighbour standing beside the
# predicted box (IoU about 0 to 0.2 for side-by-side people) is not taken for the same person.
DEFAULT_IOU_THRESH = 0.3
# A track is dropped after more than this many detection frames in a row without a match (5 detection frames: 1/6 s
# at 30 frames/s and stride 1).  Long enough to bridge a crossing, where one person hides the other and the detector
# returns one merged or no box for a few frames; short enough that the constant-velocity extrapolation that the match
# relies on has not drifted off the person.
DEFAULT_MAX_MISSED = 5
MIN_BOX_SIDE = 1.0  # px: an extrapolated shrinking box keeps a positive size


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of (N, 4) and (M, 4) xywh boxes (pixels) -> (N, M); 0 where both areas are 0."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    a1, a2 = a[:, None, :2], a[:, None, :2] + a[:, None, 2:]
    b1, b2 = b[None, :, :2], b[None, :, :2] + b[None, :, 2:]
    overlap = np.clip(np.minimum(a2, b2) - np.maximum(a1, b1), 0.0, None)
    inter = overlap[..., 0] * overlap[..., 1]
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _centre_size(box: np.ndarray) -> np.ndarray:
    return np.concatenate([box[:2] + box[2:] / 2, box[2:]])


@dataclass
class _Track:
    """One track: its last two observations (frame, xywh box), and detection frames missed in a row since."""

    track_id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    missed: int = 0

    def observe(self, box: np.ndarray, frame: int) -> None:
        self.frames = self.frames[-1:] + [frame]
        self.boxes = self.boxes[-1:] + [np.asarray(box, dtype=np.float64).copy()]
        self.missed = 0

    def predict(self, frame: int) -> np.ndarray:
        """The (4,) xywh box at ``frame``: centre and size moved at the velocity (per frame) of the last two
        observations, for as many frames as lie between the last one and ``frame``; the last box if there is one."""
        last = _centre_size(self.boxes[-1])
        if len(self.boxes) == 2:
            velocity = (last - _centre_size(self.boxes[0])) / (self.frames[1] - self.frames[0])
            last = last + velocity * (frame - self.frames[1])
        size = np.maximum(last[2:], MIN_BOX_SIDE)
        return np.concatenate([last[:2] - size / 2, size])


class Tracker:
    """Stable ids for the people of successive frames.

    ``update`` takes a frame's detections and returns their ids; ``predicted_boxes`` and ``update_track_box`` carry
    the tracks over frames where the detector does not run (``--detect_every N``).  Ids count up from 0 and are never
    reused.  ``max_missed`` counts calls of ``update`` (detection frames), whatever the frame gap between them.
    """

    def __init__(self, iou_thresh: float = DEFAULT_IOU_THRESH, max_missed: int = DEFAULT_MAX_MISSED):
        if not 0.0 < iou_thresh <= 1.0:
            raise ValueError(f"tracker IoU threshold {iou_thresh} must lie in (0, 1]; the default is "
                             f"{DEFAULT_IOU_THRESH}")
        if max_missed < 0:
            raise ValueError(f"tracker miss limit {max_missed} must be 0 or more frames; the default is "
                             f"{DEFAULT_MAX_MISSED}")
        self.iou_thresh = float(iou_thresh)
        self.max_missed = int(max_missed)
        self._tracks: dict[int, _Track] = {}
        self._next_id = 0
        self._last_frame: int | None = None

    @property
    def live_ids(self) -> list[int]:
        """Ids of the tracks not dropped yet, in increasing order."""
        return sorted(self._tracks)

    def predicted_boxes(self, frame: int, visible_only: bool = False) -> dict[int, np.ndarray]:
        """{track id: (4,) xywh box predicted at ``frame``} for the live tracks; with ``visible_only``, only those
        matched or carried at their last detection frame (not the ones being bridged over missed detections)."""
        return {tid: track.predict(frame) for tid, track in sorted(self._tracks.items())
                if not (visible_only and track.missed)}

    def update(self, boxes: np.ndarray, frame: int) -> list[int]:
        """Match the (N, 4) xywh detections of ``frame`` to the live tracks; returns N track ids, in input order.

        Cost of a (track, detection) pair: 1 - IoU(track's predicted box, detection), minimised over one-to-one
        assignments; assigned pairs with IoU below ``iou_thresh`` are not matched.  Unmatched detections start new
        tracks; a track unmatched on more than ``max_missed`` detection frames in a row is dropped.
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self._check_frame(frame)
        self._last_frame = frame
        track_ids = self.live_ids
        ids: list[int | None] = [None] * len(boxes)
        if track_ids and len(boxes):
            predicted = np.stack([self._tracks[tid].predict(frame) for tid in track_ids])
            iou = box_iou(predicted, boxes)
            rows, cols = linear_sum_assignment(1.0 - iou)
            for row, col in zip(rows, cols):
                if iou[row, col] >= self.iou_thresh:
                    ids[col] = track_ids[row]
                    self._tracks[track_ids[row]].observe(boxes[col], frame)
        matched = set(ids)
        for tid in track_ids:
            if tid not in matched:
                track = self._tracks[tid]
                track.missed += 1
                if track.missed > self.max_missed:
                    del self._tracks[tid]
        for col, box in enumerate(boxes):
            if ids[col] is None:
                ids[col] = self._start_track(box, frame)
        return [int(tid) for tid in ids]

    def update_track_box(self, track_id: int, box: np.ndarray, frame: int) -> None:
        """Record ``box`` (4,) xywh as the observation of live track ``track_id`` at ``frame`` (a frame without
        detection, the box computed from the person's projected joints); it counts as a match."""
        if track_id not in self._tracks:
            raise KeyError(f"track {track_id} is not live (live tracks: {self.live_ids})")
        track = self._tracks[track_id]
        if frame <= track.frames[-1]:
            raise ValueError(f"frame {frame} is not after track {track_id}'s last observation (frame "
                             f"{track.frames[-1]}); frames must increase")
        box = np.asarray(box, dtype=np.float64)
        if box.shape != (4,):
            raise ValueError(f"track box must be (4,) x y w h, got shape {box.shape}")
        track.observe(box, frame)
        self._last_frame = max(frame, self._last_frame if self._last_frame is not None else frame)

    def _start_track(self, box: np.ndarray, frame: int) -> int:
        track = _Track(self._next_id)
        track.observe(box, frame)
        self._tracks[track.track_id] = track
        self._next_id += 1
        return track.track_id

    def _check_frame(self, frame: int) -> None:
        if self._last_frame is not None and frame <= self._last_frame:
            raise ValueError(f"frame {frame} is not after the last tracked frame {self._last_frame}; frames must "
                             f"increase")
