"""The demo's results files, ``results.json`` and ``results.npz``, and their loader (schema: docs/results.md).

Record types: :class:`PersonResult` (one person, body or hand, in one frame), :class:`FrameResult` (one video frame
or image), :class:`RunInfo` (what was run).  :func:`results_files` encodes a run, :func:`load_results` reads
``results.npz`` back, :func:`rebuild_param_mesh` places a param mesh from its saved parameters.
"""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from main.predictor.errors import DemoError

SCHEMA_VERSION = 1
KINDS = ("body", "hand")
INPUT_KINDS = ("image", "folder", "video")
#: per kind: joints (J), mesh vertices (V), pose values (SMPL 24 x 3, MANO 16 x 3)
SIZES = {"body": {"joints": 29, "verts": 6890, "pose": 72}, "hand": {"joints": 21, "verts": 778, "pose": 48}}
_JSON_DIGITS = 6  # significant digits of every float in results.json (npz keeps float32)


@dataclass
class PersonResult:
    """One person (a body or a hand) in one frame; camera space in metres (x right, y down, z forward).

    ``track_id``: the track's id (videos), the person's index (images); a hand found from a body carries the body's.
    ``is_right``: hands True / False (a left hand's outputs are mirrored, its parameters stay right-hand ones); None
    for bodies.  ``bbox`` (4,) x, y, w, h pixels as given, detected or carried; ``joints_img`` (J, 2) pixels;
    ``joints_cam`` (J, 3) and ``mesh_lixel_cam`` (V, 3) metres (None when read from a file saved without meshes).
    Param stage only (else None): ``pose`` (72,) SMPL / (48,) MANO axis-angle as the smplx layer takes it (MANO with
    ``flat_hand_mean=False``: articulation as offsets from the mean hand), ``shape`` (10,), ``trans`` (3,) metres and
    ``mesh_param_cam`` (V, 3) metres = layer(pose, shape) + trans, mirrored in x before adding ``trans`` for left
    hands (:func:`rebuild_param_mesh`).
    """

    kind: str
    track_id: int
    is_right: bool | None
    bbox: np.ndarray
    score: float | None
    root_depth: float
    joints_img: np.ndarray
    joints_cam: np.ndarray
    mesh_lixel_cam: np.ndarray | None
    pose: np.ndarray | None = None
    shape: np.ndarray | None = None
    trans: np.ndarray | None = None
    mesh_param_cam: np.ndarray | None = None


@dataclass
class FrameResult:
    """One video frame or image: ``key`` the frame index from 0 (videos), the file's base name (folders) or 0 (one
    image); ``focal`` (fx, fy) and ``princpt`` (cx, cy) pixels; the people found in it, in order."""

    key: int | str
    focal: tuple[float, float]
    princpt: tuple[float, float]
    people: list[PersonResult] = field(default_factory=list)


@dataclass
class RunInfo:
    """What was run: the input path and kind ("image", "folder", "video"), the video's frames per second (None for
    images), the model kinds present ("body", "hand"), the stage ("lixel" or "param") and the flags that matter
    (JSON values: numbers, strings, booleans, None, lists)."""

    input: str
    input_kind: str
    kinds: tuple[str, ...]
    stage: str
    fps: float | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.kinds = tuple(self.kinds)
        if self.input_kind not in INPUT_KINDS or not set(self.kinds) <= set(KINDS) or \
                self.stage not in ("lixel", "param"):
            raise ValueError(f"RunInfo: input_kind {self.input_kind!r} (one of {INPUT_KINDS}), kinds {self.kinds} "
                             f"(of {KINDS}), stage {self.stage!r} (lixel or param)")


def _json_value(value: Any) -> Any:
    """Arrays and floats rounded to 6 significant digits, non-finite numbers as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value.tolist()] if value.ndim else _json_value(value.item())
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    value = float(value)
    return float(f"{value:.{_JSON_DIGITS}g}") if np.isfinite(value) else None


def _person_json(p: PersonResult) -> dict:
    keys = ("kind", "track_id", "is_right", "bbox", "score", "root_depth", "joints_img", "joints_cam", "pose",
            "shape", "trans")
    return {k: _json_value(getattr(p, k)) for k in keys}


def results_json(frames: Sequence[FrameResult], info: RunInfo) -> bytes:
    """``results.json``: the run's info and, per frame in order, its camera and people (no meshes)."""
    doc = {"schema_version": SCHEMA_VERSION, "info": asdict(info),
           "frames": [{"frame": _json_value(f.key), "focal": _json_value(f.focal), "princpt": _json_value(f.princpt),
                       "people": [_person_json(p) for p in f.people]} for f in frames]}
    return json.dumps(doc, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _rows(values: list, shape: tuple[int, ...], what: str) -> np.ndarray:
    """(P, *shape) float32, a NaN row for each None."""
    out = np.full((len(values), *shape), np.nan, dtype=np.float32)
    for i, v in enumerate(values):
        if v is not None:
            v = np.asarray(v, dtype=np.float32)
            if v.shape != shape:
                raise ValueError(f"{what}: shape {v.shape}, expected {shape}")
            out[i] = v
    return out


def _kind_arrays(kind: str, rows: list[tuple[int, int, PersonResult]], with_meshes: bool) -> dict[str, np.ndarray]:
    """The ``<kind>_*`` arrays of one kind; ``rows``: (frame row, index in the frame's people, person)."""
    size = SIZES[kind]
    people = [p for _, _, p in rows]
    for p in people:
        if p.kind == "body" and p.is_right is not None or p.kind == "hand" and p.is_right not in (True, False):
            raise ValueError(f"{p.kind} track {p.track_id}: is_right {p.is_right!r} (None for bodies, bool for hands)")
        if (p.pose is None) != (p.shape is None) or (p.pose is None) != (p.trans is None):
            raise ValueError(f"{p.kind} track {p.track_id}: pose, shape and trans must be all given or all None")
    out = {
        "frame": np.array([r for r, _, _ in rows], dtype=np.int64),
        "person": np.array([i for _, i, _ in rows], dtype=np.int64),
        "track_id": np.array([p.track_id for p in people], dtype=np.int64),
        "is_right": np.array([-1 if p.is_right is None else int(bool(p.is_right)) for p in people], dtype=np.int8),
        "bbox": _rows([p.bbox for p in people], (4,), f"{kind} bbox"),
        "score": np.array([np.nan if p.score is None else p.score for p in people], dtype=np.float32),
        "root_depth": np.array([p.root_depth for p in people], dtype=np.float32),
        "joints_img": _rows([p.joints_img for p in people], (size["joints"], 2), f"{kind} joints_img"),
        "joints_cam": _rows([p.joints_cam for p in people], (size["joints"], 3), f"{kind} joints_cam"),
        "has_param": np.array([p.pose is not None for p in people], dtype=bool),
        "pose": _rows([p.pose for p in people], (size["pose"],), f"{kind} pose"),
        "shape": _rows([p.shape for p in people], (10,), f"{kind} shape"),
        "trans": _rows([p.trans for p in people], (3,), f"{kind} trans"),
    }
    if with_meshes:
        out["mesh_lixel_cam"] = _rows([p.mesh_lixel_cam for p in people], (size["verts"], 3), f"{kind} mesh_lixel_cam")
        out["mesh_param_cam"] = _rows([p.mesh_param_cam for p in people], (size["verts"], 3), f"{kind} mesh_param_cam")
    return {f"{kind}_{k}": v for k, v in out.items()}


def results_npz(frames: Sequence[FrameResult], info: RunInfo, with_meshes: bool) -> bytes:
    """``results.npz``: frame arrays and, per kind of ``info.kinds``, one row per person and frame (no pickles)."""
    rows: dict[str, list] = {kind: [] for kind in info.kinds}
    for f_idx, frame in enumerate(frames):
        for p_idx, person in enumerate(frame.people):
            if person.kind not in rows:
                raise ValueError(f"frame {frame.key!r}: a {person.kind!r} result, but RunInfo.kinds is {info.kinds}")
            rows[person.kind].append((f_idx, p_idx, person))
    arrays = {
        "schema_version": np.array(SCHEMA_VERSION, dtype=np.int64),
        "info_json": np.array(json.dumps(asdict(info), allow_nan=False)),
        "frame_key": np.array([str(f.key) for f in frames], dtype=str),
        "focal": np.array([f.focal for f in frames], dtype=np.float64).reshape(len(frames), 2),
        "princpt": np.array([f.princpt for f in frames], dtype=np.float64).reshape(len(frames), 2),
    }
    for kind, kind_rows in rows.items():
        arrays.update(_kind_arrays(kind, kind_rows, with_meshes))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def results_files(frames: Sequence[FrameResult], info: RunInfo, with_meshes: bool) -> dict[str, bytes]:
    """``{"results.json": ..., "results.npz": ...}``; meshes go into the npz only when ``with_meshes``."""
    return {"results.json": results_json(frames, info), "results.npz": results_npz(frames, info, with_meshes)}


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except FileNotFoundError as exc:
        raise DemoError(f"results file '{path}' not found; pass the results.npz a demo run wrote") from exc
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DemoError(f"'{path}' is not a results.npz of the demo ({type(exc).__name__}: {exc})") from exc


def _optional(row: np.ndarray, present: bool) -> np.ndarray | None:
    return row.copy() if present else None


def load_results(path: str | Path) -> tuple[list[FrameResult], RunInfo]:
    """Read ``results.npz`` (written by :func:`results_files`) back into frames and run info.

    Arrays come back float32 as stored (focal and principal point float64); meshes are None when the file has none.
    """
    path = Path(path)
    data = _read_npz(path)
    try:
        version = int(data["schema_version"])
        if version != SCHEMA_VERSION:
            raise DemoError(f"'{path}' has schema_version {version}; this code reads version {SCHEMA_VERSION} "
                            f"(docs/results.md): read it with the version of the project that wrote it")
        info = RunInfo(**json.loads(str(data["info_json"])))
        keys = data["frame_key"].tolist()
        frames = [FrameResult(key=k if info.input_kind == "folder" else int(k), focal=tuple(map(float, fc)),
                              princpt=tuple(map(float, pp)), people=[])
                  for k, fc, pp in zip(keys, data["focal"], data["princpt"])]
        placed: list[tuple[int, int, PersonResult]] = []
        for kind in info.kinds:
            placed += _load_kind(data, kind)
    except KeyError as exc:
        raise DemoError(f"'{path}' has no array {exc}: not a complete results.npz of schema_version "
                        f"{SCHEMA_VERSION}") from exc
    for f_idx, p_idx, person in sorted(placed, key=lambda t: (t[0], t[1])):
        frames[f_idx].people.append(person)
    return frames, info


def _load_kind(data: dict[str, np.ndarray], kind: str) -> list[tuple[int, int, PersonResult]]:
    """(frame row, index in the frame, person) for every ``<kind>_*`` row."""
    def a(name: str) -> np.ndarray:
        return data[f"{kind}_{name}"]

    meshes = f"{kind}_mesh_lixel_cam" in data
    out = []
    for i in range(len(a("frame"))):
        has_param = bool(a("has_param")[i])
        score = float(a("score")[i])
        person = PersonResult(
            kind=kind, track_id=int(a("track_id")[i]),
            is_right=None if a("is_right")[i] < 0 else bool(a("is_right")[i]),
            bbox=a("bbox")[i].copy(), score=None if np.isnan(score) else score,
            root_depth=float(a("root_depth")[i]), joints_img=a("joints_img")[i].copy(),
            joints_cam=a("joints_cam")[i].copy(),
            mesh_lixel_cam=a("mesh_lixel_cam")[i].copy() if meshes else None,
            pose=_optional(a("pose")[i], has_param), shape=_optional(a("shape")[i], has_param),
            trans=_optional(a("trans")[i], has_param),
            mesh_param_cam=_optional(a("mesh_param_cam")[i], has_param) if meshes else None)
        out.append((int(a("frame")[i]), int(a("person")[i]), person))
    return out


def rebuild_param_mesh(layer: Any, kind: str, pose: np.ndarray, shape: np.ndarray, trans: np.ndarray,
                       is_right: bool | None = None) -> np.ndarray:
    """(V, 3) camera-space param mesh, metres, from saved parameters: ``layer`` is the smplx SMPL layer (body) or the
    right-hand MANO layer with ``flat_hand_mean=False`` (hand); a left hand's layer output is mirrored (x -> -x)
    before ``trans`` is added (its faces are then the layer's faces with the winding reversed)."""
    import torch  # noqa: PLC0415 - only the rebuild needs torch

    def t(x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(1, -1)

    rest = {"body_pose": t(pose)[:, 3:]} if kind == "body" else {"hand_pose": t(pose)[:, 3:]}
    with torch.no_grad():
        verts = layer(global_orient=t(pose)[:, :3], betas=t(shape), **rest).vertices[0].double().numpy()
    if kind == "hand" and not is_right:
        verts = verts * np.array([-1.0, 1.0, 1.0])
    return verts + np.asarray(trans, dtype=np.float64)
