"""Who is in a frame: candidate boxes of bodies and hands, from given boxes, detection files or detectors
(docs/demo.md#finding-people).

A finder answers ``find(frame, position)`` with the frame's candidates, or ``None`` when it does not look at this
frame (``--detect_every N`` between detector frames): the pipeline then carries each track's box from its last
prediction.  Every finder is independent of the network's outputs, so frames it answers can be batched.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from common.utils.media import Frame
from main.predictor.hands import hand_boxes


@dataclass
class Candidate:
    """A box to run: ``kind`` "body" / "hand"; ``bbox`` (4,) x, y, w, h pixels; ``score`` or None; ``is_right``
    (hands) or None; ``source`` text for messages; ``person_bbox`` (4,) the body box a hand was found from;
    ``track_id`` set for a box carried from a track's last prediction; ``root_depth`` metres (``--root_depth``)."""

    kind: str
    bbox: np.ndarray
    score: float | None
    is_right: bool | None
    source: str
    person_bbox: np.ndarray | None = None
    track_id: int | None = None
    root_depth: float | None = None


class Finder(Protocol):
    def find(self, frame: Frame, position: int) -> list[Candidate] | None:
        """Candidates of ``frame`` (the ``position``-th processed frame, from 0), or None: not looked at."""


class FixedFinder:
    """The same boxes in every frame (``--bbox`` on one image)."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates = list(candidates)

    def find(self, frame: Frame, position: int) -> list[Candidate]:
        return list(self.candidates)


class TableFinder:
    """Boxes by frame key from a detections file (``--bbox_json``); a frame missing from the file has none.

    ``single_image``: the file's ``image_id`` is ignored (every entry belongs to the one image)."""

    def __init__(self, table: dict, kind: str, source: str, single_image: bool = False) -> None:
        self.table, self.kind, self.source, self.single_image = table, kind, source, single_image

    def _entries(self, key) -> list:
        if self.single_image:
            return [e for entries in self.table.values() for e in entries]
        return self.table.get(key, [])

    def find(self, frame: Frame, position: int) -> list[Candidate]:
        is_right = True if self.kind == "hand" else None  # given hand boxes are right hands, as the model is
        return [Candidate(self.kind, np.asarray(box, dtype=np.float64), score, is_right,
                          f"{self.source} entry for frame {frame.key!r} #{k + 1}")
                for k, (box, score) in enumerate(self._entries(frame.key))]


class DetectorFinder:
    """The person detector on every ``every``-th processed frame (``detect``: image -> [(bbox, score)])."""

    def __init__(self, detect: Callable[[np.ndarray], list], every: int = 1, max_people: int | None = None) -> None:
        self.detect, self.every, self.max_people = detect, max(1, int(every)), max_people

    def find(self, frame: Frame, position: int) -> list[Candidate] | None:
        if position % self.every:
            return None
        found = self.detect(frame.image)[:self.max_people]
        return [Candidate("body", np.asarray(box, dtype=np.float64), score, None, f"detection {k + 1}")
                for k, (box, score) in enumerate(found)]


class HandFinder:
    """Hands from body keypoints (``keypoints``: frame -> [KeypointDetection] or None when not looked at), as the
    hand-box rule of docs/hands.md places them; ``sides``: "right", "left" or "both"."""

    def __init__(self, keypoints: Callable[[Frame, int], list | None], sides: str = "both",
                 with_bodies: bool = False) -> None:
        self.keypoints, self.sides, self.with_bodies = keypoints, sides, with_bodies

    def find(self, frame: Frame, position: int) -> list[Candidate] | None:
        people = self.keypoints(frame, position)
        if people is None:
            return None
        found: list[Candidate] = []
        if self.with_bodies:
            found += [Candidate("body", np.asarray(p.bbox, dtype=np.float64), p.score, None,
                                f"keypoint detection {k + 1}") for k, p in enumerate(people)]
        height, width = frame.image.shape[:2]
        for hand in hand_boxes(people, sides=self.sides, image_size=(width, height)):
            side = "right" if hand.is_right else "left"
            found.append(Candidate("hand", np.asarray(hand.bbox, dtype=np.float64), hand.score, hand.is_right,
                                   f"{side} hand of keypoint detection {hand.person + 1}",
                                   person_bbox=np.asarray(people[hand.person].bbox, dtype=np.float64)))
        return found


class CombinedFinder:
    """Candidates of several finders together; None only when every finder skips the frame."""

    def __init__(self, finders: Sequence[Finder]) -> None:
        self.finders = list(finders)

    def find(self, frame: Frame, position: int) -> list[Candidate] | None:
        answers = [f.find(frame, position) for f in self.finders]
        if all(a is None for a in answers):
            return None
        return [c for a in answers if a is not None for c in a]


def keypoints_from_table(table: dict, single_image: bool = False) -> Callable[[Frame, int], list]:
    """A ``keypoints`` callable for :class:`HandFinder` from a ``--keypoints_json`` table (frame key -> people)."""

    def lookup(frame: Frame, position: int) -> list:
        if single_image:
            return [p for people in table.values() for p in people]
        return table.get(frame.key, [])

    return lookup


def keypoints_from_detector(detect: Callable[[np.ndarray], list], every: int = 1) -> Callable[[Frame, int], list]:
    """A ``keypoints`` callable running Keypoint R-CNN (``detect``: image -> [KeypointDetection]) every ``every``-th
    processed frame."""

    def run(frame: Frame, position: int) -> list | None:
        return None if position % max(1, int(every)) else detect(frame.image)

    return run
