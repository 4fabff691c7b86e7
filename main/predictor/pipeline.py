"""The frame loop: candidates -> track ids -> batched network -> smoothing, one :class:`FrameOutput` per frame, in
order (docs/demo.md#videos-and-folders).

Frames whose boxes do not depend on the network (given boxes, detection files, detector frames) are gathered until
``test_batch_size`` people are waiting and run together; a frame whose boxes are carried from the last predictions
(``--detect_every N``) waits for the frames before it.  Memory stays bounded: at most ``MAX_PENDING_FRAMES``
frames are held.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from common.utils.media import Frame
from common.utils.preprocessing import bbox_from_keypoints
from common.utils.stopwatch import StageTimes
from main.predictor.camera import Camera
from main.predictor.finders import Candidate, Finder
from main.predictor.predictor import Crop, Prediction, Predictor
from main.predictor.smoothing import DEFAULT_BETA, DEFAULT_MIN_CUTOFF, TrackSmoother
from main.predictor.tracking import DEFAULT_IOU_THRESH, DEFAULT_MAX_MISSED, Tracker, box_iou

MAX_PENDING_FRAMES = 16
HAND_TO_BODY_IOU = 0.5  # a hand belongs to the body whose box overlaps its keypoint detection's box this much
CARRY_BOX_FACTOR = 1.2  # box around the projected joints of a carried track, as the datasets enlarge joint boxes
MIN_CARRIED_SIDE = 8.0  # pixels: a carried box this small (or off the image) holds nobody to run
MIN_CARRIED_SHRINK = 0.25  # a joints box this much narrower or shorter than the track's last box is not trusted


@dataclass
class TrackOptions:
    """Tracking (videos): ``iou_thresh``, ``max_missed`` frames (docs/tracking_smoothing.md); ``enabled`` False
    for images and folders, where the track id is the person's index in the frame."""

    enabled: bool = False
    iou_thresh: float = DEFAULT_IOU_THRESH
    max_missed: int = DEFAULT_MAX_MISSED


@dataclass
class SmoothOptions:
    """One-Euro smoothing per track: off unless ``enabled``; ``min_cutoff`` Hz, ``beta``."""

    enabled: bool = False
    min_cutoff: float = DEFAULT_MIN_CUTOFF
    beta: float = DEFAULT_BETA


@dataclass
class FrameOutput:
    """One processed frame: the frame, its camera and its people (bodies first, then hands), in input order."""

    frame: Frame
    camera: Camera
    people: list[Prediction]
    position: int = 0


@dataclass
class _Pending:
    frame: Frame
    position: int
    camera: Camera
    candidates: list[Candidate]
    track_ids: list[int] = field(default_factory=list)


class FramePipeline:
    """Runs ``predictors`` (kind -> Predictor) over frames with the people ``finder`` gives."""

    def __init__(self, predictors: dict[str, Predictor], finder: Finder, camera_for: Callable[[Frame], Camera],
                 track: TrackOptions, smooth: SmoothOptions, fps: float | None = None,
                 times: StageTimes | None = None) -> None:
        self.predictors, self.finder, self.camera_for = predictors, finder, camera_for
        self.track, self.smooth, self.fps = track, smooth, fps
        self.times = times or StageTimes()
        self.trackers: dict[tuple, Tracker] = {}
        self.smoothers: dict[tuple, TrackSmoother] = {}
        self.last: dict[tuple, tuple[int, Prediction]] = {}  # track key -> (position, last prediction)
        self.batch_size = max(int(p.cfg.test_batch_size) for p in predictors.values())

    def run(self, frames: Iterable[Frame]) -> Iterator[FrameOutput]:
        """Process ``frames`` in order; yields each frame's outputs as soon as its batch has run."""
        pending: list[_Pending] = []
        for position, frame in enumerate(frames):
            camera = self.camera_for(frame)
            candidates = self.finder.find(frame, position)
            if candidates is None:  # between detector frames: boxes from the last predictions
                yield from self._flush(pending)
                pending = []
                item = _Pending(frame, position, camera, self._carried(position, frame.image.shape))
                item.track_ids = [int(c.track_id) for c in item.candidates]
                self._update_carried(item)
                yield from self._flush([item])
                continue
            candidates = [c for c in candidates if c.kind in self.predictors]
            item = _Pending(frame, position, camera, candidates)
            with self.times("track"):
                item.track_ids = self._assign_ids(item)
            pending.append(item)
            if sum(len(p.candidates) for p in pending) >= self.batch_size or len(pending) >= MAX_PENDING_FRAMES:
                yield from self._flush(pending)
                pending = []
        yield from self._flush(pending)

    # ----- track ids ----------------------------------------------------------------------------------------------
    def _frame_number(self, item: _Pending) -> int:
        return int(item.frame.key) if isinstance(item.frame.key, int) and self.track.enabled else item.position

    def _assign_ids(self, item: _Pending) -> list[int]:
        ids = [0] * len(item.candidates)
        bodies = [k for k, c in enumerate(item.candidates) if c.kind == "body"]
        if self.track.enabled and bodies:
            tracker = self._tracker(("body", None))
            for k, tid in zip(bodies, tracker.update(np.stack([item.candidates[k].bbox for k in bodies]),
                                                     self._frame_number(item))):
                ids[k] = int(tid)
        else:
            for n, k in enumerate(bodies):
                ids[k] = n
        hands = [k for k, c in enumerate(item.candidates) if c.kind == "hand"]
        if bodies:  # hands take the id of the body they were found on
            body_boxes = np.stack([item.candidates[k].bbox for k in bodies])
            for k in hands:
                ids[k] = self._body_of(item.candidates[k], body_boxes, [ids[b] for b in bodies])
        else:
            for side in (True, False):
                same = [k for k in hands if item.candidates[k].is_right is side]
                if self.track.enabled and same:
                    tracker = self._tracker(("hand", side))
                    got = tracker.update(np.stack([item.candidates[k].bbox for k in same]), self._frame_number(item))
                    for k, tid in zip(same, got):
                        ids[k] = int(tid)
                else:
                    for n, k in enumerate(same):
                        ids[k] = n
        return ids

    @staticmethod
    def _body_of(hand: Candidate, body_boxes: np.ndarray, body_ids: list[int]) -> int:
        if hand.person_bbox is None:
            return -1
        overlap = box_iou(np.asarray(hand.person_bbox, dtype=np.float64)[None], body_boxes)[0]
        best = int(np.argmax(overlap))
        return body_ids[best] if overlap[best] >= HAND_TO_BODY_IOU else -1

    def _tracker(self, group: tuple) -> Tracker:
        if group not in self.trackers:
            self.trackers[group] = Tracker(iou_thresh=self.track.iou_thresh, max_missed=self.track.max_missed)
        return self.trackers[group]

    # ----- carried boxes ------------------------------------------------------------------------------------------
    def _carried(self, position: int, image_shape: tuple[int, ...]) -> list[Candidate]:
        """The boxes of the tracks predicted in the previous frame: around their projected joints, enlarged and
        clipped to the image.  Where the joints give no usable box (a side under ``MIN_CARRIED_SIDE`` pixels or under
        ``MIN_CARRIED_SHRINK`` of the last box's: a collapsed prediction), the track's last box is kept (an
        extrapolation would feed on its own carried boxes and run away); a track with neither inside the image is
        not carried: it misses this frame."""
        found = []
        height, width = image_shape[:2]
        for (kind, track_id, is_right), (last_position, pred) in sorted(self.last.items(), key=_track_order):
            if last_position != position - 1:
                continue
            joints = np.asarray(pred.result.joints_img)
            box = bbox_from_keypoints(joints, np.ones(len(joints)), CARRY_BOX_FACTOR)
            last = np.asarray(pred.result.bbox, dtype=np.float64)
            collapsed = np.any(box[2:] < np.maximum(MIN_CARRIED_SHRINK * last[2:], MIN_CARRIED_SIDE))
            box = _clip(last if collapsed else box, width, height)
            if box is None:
                continue
            found.append(Candidate(kind, box, pred.result.score, is_right, f"track {track_id} carried",
                                   track_id=track_id))
        return found

    def _update_carried(self, item: _Pending) -> None:
        if not self.track.enabled:
            return
        for candidate, tid in zip(item.candidates, item.track_ids):
            group = ("body", None) if candidate.kind == "body" else ("hand", candidate.is_right)
            if group in self.trackers and tid >= 0:
                self.trackers[group].update_track_box(tid, candidate.bbox, self._frame_number(item))

    # ----- network, smoothing -------------------------------------------------------------------------------------
    def _flush(self, pending: list[_Pending]) -> Iterator[FrameOutput]:
        if not pending:
            return
        results: dict[tuple[int, int], Prediction] = {}
        for kind, predictor in self.predictors.items():
            slots, crops = [], []
            for n, item in enumerate(pending):
                for k, (c, tid) in enumerate(zip(item.candidates, item.track_ids)):
                    if c.kind == kind:
                        slots.append((n, k))
                        crops.append(Crop(item.frame.image, c.bbox, item.camera.focal, item.camera.princpt,
                                          is_right=c.is_right, root_depth=c.root_depth, score=c.score,
                                          track_id=tid))
            for slot, pred in zip(slots, predictor.predict(crops)):
                results[slot] = pred
        for n, item in enumerate(pending):
            people = [results[(n, k)] for k in range(len(item.candidates))]
            people.sort(key=lambda p: (p.result.kind != "body", p.result.track_id, p.result.is_right is False))
            for pred in people:
                with self.times("smooth"):
                    self._smooth(pred, item)
                key = (pred.result.kind, pred.result.track_id, pred.result.is_right)
                self.last[key] = (item.position, pred)
            yield FrameOutput(item.frame, item.camera, people, item.position)

    def _time(self, item: _Pending) -> float:
        if item.frame.time_s is not None:
            return float(item.frame.time_s)
        return item.position / (self.fps or 30.0)

    def _smooth(self, pred: Prediction, item: _Pending) -> None:
        r = pred.result
        if not self.smooth.enabled or r.track_id < 0:
            return
        key = (r.kind, r.track_id, r.is_right)
        if key not in self.smoothers:
            self.smoothers[key] = TrackSmoother(min_cutoff=self.smooth.min_cutoff, beta=self.smooth.beta)
        values = {"bbox": r.bbox, "root_depth": np.array([r.root_depth]), "joints_img": r.joints_img,
                  "joints_cam": r.joints_cam, "mesh_lixel_cam": r.mesh_lixel_cam, "pose": r.pose, "shape": r.shape,
                  "trans": r.trans}
        out = self.smoothers[key].smooth(values, self._time(item))
        r.bbox, r.root_depth = out["bbox"], float(np.asarray(out["root_depth"]).reshape(-1)[0])
        r.joints_img, r.joints_cam, r.mesh_lixel_cam = out["joints_img"], out["joints_cam"], out["mesh_lixel_cam"]
        if r.pose is not None:  # the param mesh follows the smoothed parameters, so it stays a body (hand) mesh
            r.pose, r.shape, r.trans = out["pose"], out["shape"], out["trans"]
            r.mesh_param_cam = self.predictors[r.kind].param_mesh(r.pose, r.shape, r.trans, r.is_right)


def _clip(box: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """(x, y, w, h) clipped to the image, or None when less than ``MIN_CARRIED_SIDE`` pixels a side remain."""
    x, y, w, h = (float(v) for v in box)
    x0, y0, x1, y1 = max(x, 0.0), max(y, 0.0), min(x + w, float(width)), min(y + h, float(height))
    if x1 - x0 < MIN_CARRIED_SIDE or y1 - y0 < MIN_CARRIED_SIDE:
        return None
    return np.array([x0, y0, x1 - x0, y1 - y0])


def _track_order(entry: tuple) -> tuple:
    (kind, track_id, is_right), _ = entry
    return (kind != "body", track_id, is_right is False)
