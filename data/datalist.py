"""Compact datalists: every record of a dataset in one packed byte buffer, materialised on access.

A list of :class:`~data.records.SampleRecord` objects is large in Python objects (Human3.6M train: ~300 k records),
and a DataLoader worker copies it: under ``fork`` page by page as reference counts and the garbage collector touch
the objects, under ``spawn`` / ``forkserver`` (Python 3.14's default) as a whole when the dataset is pickled to the
worker. :class:`Datalist` stores the same fields as columns (one NumPy row per record, a fraction of the objects'
size) packed into one ``torch.uint8`` tensor, and builds a fresh ``SampleRecord`` (own copies of every array, the
exact dtypes, ``Path`` / ``int`` / ``float`` / ``str`` values) each time one is indexed:

* under ``fork`` the buffer's pages are only read, so they stay shared with the parent;
* under ``spawn`` / ``forkserver`` the DataLoader pickles the dataset with torch's multiprocessing pickler, which passes
  a tensor's storage through shared memory (moving it there once) instead of copying it; an ordinary ``pickle``
  stores the bytes.

Column layout per field: rows of a fixed dtype and shape; a field that is ``None`` in every record is not stored, one
that is ``None`` in some records gets a presence mask (missing rows are zeros), one whose rows are all byte-identical
is stored once. Paths are stored as UTF-8 bytes after their common prefix; strings with few distinct values (SMPL
gender) as one-byte codes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from data.records import CameraParams, ModelParams, SampleRecord

__all__ = ["Datalist"]

#: (field, kind) of the fixed part of a record; ``ids.<key>`` fields (kind "int") follow in the records' key order.
_FIELDS: tuple[tuple[str, str], ...] = (
    ("img_path", "path"), ("img_shape", "int_tuple"), ("bbox", "array"),
    ("cam.focal", "array"), ("cam.princpt", "array"), ("cam.R", "array"), ("cam.t", "array"),
    ("root_depth", "float"), ("joint_img", "array"), ("joint_cam", "array"), ("joint_valid", "array"),
    ("params.pose", "array"), ("params.shape", "array"), ("params.trans", "array"), ("params.gender", "str"),
)
_ALIGN = 16
_CHUNK = 4096
_MAX_CATEGORIES = 255


def _flatten(record: SampleRecord) -> dict[str, Any]:
    """The record's field values by column name (``None`` where absent)."""
    cam, params = record.cam, record.params
    flat = {
        "img_path": str(record.img_path), "img_shape": record.img_shape, "bbox": record.bbox,
        "cam.focal": None if cam is None else cam.focal, "cam.princpt": None if cam is None else cam.princpt,
        "cam.R": None if cam is None else cam.R, "cam.t": None if cam is None else cam.t,
        "root_depth": record.root_depth, "joint_img": record.joint_img, "joint_cam": record.joint_cam,
        "joint_valid": record.joint_valid,
        "params.pose": None if params is None else params.pose,
        "params.shape": None if params is None else params.shape,
        "params.trans": None if params is None else params.trans,
        "params.gender": None if params is None else params.gender,
    }
    for key, value in record.ids.items():
        flat[f"ids.{key}"] = value
    return flat


def _unflatten(v: dict[str, Any], id_keys: Sequence[str]) -> SampleRecord:
    cam = None
    if v["cam.focal"] is not None:
        cam = CameraParams(focal=v["cam.focal"], princpt=v["cam.princpt"], R=v["cam.R"], t=v["cam.t"])
    params = None
    if v["params.pose"] is not None:
        params = ModelParams(pose=v["params.pose"], shape=v["params.shape"], trans=v["params.trans"],
                             gender=v["params.gender"])
    return SampleRecord(img_path=Path(v["img_path"]), img_shape=v["img_shape"], bbox=v["bbox"], cam=cam,
                        root_depth=v["root_depth"], joint_img=v["joint_img"], joint_cam=v["joint_cam"],
                        joint_valid=v["joint_valid"], params=params, ids={k: v[f"ids.{k}"] for k in id_keys})


# --------------------------------------------------------------------------------------------------------------------
# Building columns
# --------------------------------------------------------------------------------------------------------------------

_KIND_CHECKS = {
    "array": (lambda v: isinstance(v, np.ndarray), "a NumPy array"),
    "float": (lambda v: isinstance(v, (float, np.floating)), "a float"),
    "int": (lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool), "an int"),
    "int_tuple": (lambda v: isinstance(v, tuple) and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool)
                                                         for x in v), "a tuple of ints"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "path": (lambda v: isinstance(v, str), "a path"),
}


class _FieldBuilder:
    """Collects one field's values, a chunk of records at a time."""

    def __init__(self, name: str, kind: str) -> None:
        self.name, self.kind = name, kind
        self.chunks: list[tuple[np.ndarray | None, np.ndarray]] = []
        self.strings: list[str | None] = []

    def add(self, values: list[Any], start: int) -> None:
        """The values of records ``start``, ``start + 1``, ... (``None`` where absent)."""
        check, expected = _KIND_CHECKS[self.kind]
        if not all(v is None or check(v) for v in values):
            k, bad = next((k, v) for k, v in enumerate(values) if v is not None and not check(v))
            raise TypeError(f"datalist record {start + k}: field '{self.name}' must be {expected}, got "
                            f"{type(bad).__name__} {bad!r:.60}")
        if self.kind in ("str", "path"):
            self.strings.extend(values)
            return
        present = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
        rows = [v for v in values if v is not None]
        if not rows:
            self.chunks.append((None, present))
            return
        if self.kind == "array":
            first = rows[0]
            if not all(r.dtype == first.dtype and r.shape == first.shape for r in rows):
                k = next(k for k, r in enumerate(rows) if r.dtype != first.dtype or r.shape != first.shape)
                r = rows[k]
                raise ValueError(f"datalist record {start + int(np.flatnonzero(present)[k])}: field '{self.name}' "
                                 f"has dtype {r.dtype} shape {r.shape}, other records {first.dtype} {first.shape}; "
                                 f"every record of a dataset must agree")
            stacked = np.stack(rows)
        elif self.kind == "int_tuple":
            if len({len(r) for r in rows}) != 1:
                raise ValueError(f"datalist: field '{self.name}' has tuples of different lengths")
            stacked = np.array(rows, dtype=np.int64)
        else:
            stacked = np.array(rows, dtype=np.float64 if self.kind == "float" else np.int64)
        if present.all():
            self.chunks.append((stacked, present))
            return
        data = np.zeros((len(values),) + stacked.shape[1:], dtype=stacked.dtype)
        data[present] = stacked
        self.chunks.append((data, present))

    def finish(self) -> dict[str, Any] | None:
        """{'kind', 'data' (rows), 'mask' (or None), 'constant', extra string metadata}; None if always absent."""
        if self.kind in ("str", "path"):
            return self._finish_strings()
        known = [data for data, _ in self.chunks if data is not None]
        if not known:
            return None
        ref = known[0]
        for data in known:
            if data.dtype != ref.dtype or data.shape[1:] != ref.shape[1:]:
                raise ValueError(f"datalist: field '{self.name}' changes dtype/shape between records "
                                 f"({ref.dtype} {ref.shape[1:]} vs {data.dtype} {data.shape[1:]})")
        data = np.concatenate([d if d is not None else np.zeros((len(m),) + ref.shape[1:], ref.dtype)
                               for d, m in self.chunks])
        mask = np.concatenate([m for _, m in self.chunks])
        return _finish_rows(self.kind, data, mask)

    def _finish_strings(self) -> dict[str, Any] | None:
        present = np.array([s is not None for s in self.strings], dtype=bool)
        if not present.any():
            return None
        values = [s if s is not None else "" for s in self.strings]
        categories = sorted(set(s for s in self.strings if s is not None))
        if self.kind == "str" and len(categories) <= _MAX_CATEGORIES:
            code = {c: k for k, c in enumerate(categories)}
            result = _finish_rows("category", np.array([code[s] if s is not None else 0 for s in self.strings],
                                                        dtype=np.uint8), present)
            result["categories"] = tuple(categories)
            return result
        prefix = os.path.commonprefix([s for s in self.strings if s is not None])
        encoded = [s[len(prefix):].encode("utf-8") for s in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        result = _finish_rows("packed", offsets, present)
        result.update(chars=np.frombuffer(b"".join(encoded), dtype=np.uint8), prefix=prefix)
        return result


def _finish_rows(kind: str, data: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    """Drop an all-True mask; keep a single row when every row is byte-identical (and none is missing)."""
    all_present = bool(mask.all())
    constant = False
    if all_present and kind != "packed" and len(data) > 1:
        as_bytes = np.ascontiguousarray(data).view(np.uint8).reshape(len(data), -1)
        constant = bool((as_bytes == as_bytes[:1]).all())
    return {"kind": kind, "data": data[:1] if constant else data, "mask": None if all_present else mask,
            "constant": constant}


# --------------------------------------------------------------------------------------------------------------------
# The packed datalist
# --------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Slot:
    """Where an array lives in the buffer: byte offset, dtype, shape."""

    offset: int
    dtype: str
    shape: tuple[int, ...]

    def view(self, buf: np.ndarray) -> np.ndarray:
        nbytes = int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize
        return buf[self.offset:self.offset + nbytes].view(self.dtype).reshape(self.shape)


@dataclass(frozen=True)
class _Column:
    """One stored field: rows (``kind`` 'array' / 'float' / 'int' / 'int_tuple' / 'category' / 'packed'), an
    optional presence mask, string metadata."""

    name: str
    kind: str
    rows: _Slot
    mask: _Slot | None
    constant: bool
    categories: tuple[str, ...] = ()
    chars: _Slot | None = None
    prefix: str = ""

    def views(self, buf: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(rows, mask, chars) arrays viewing ``buf``."""
        return (self.rows.view(buf), None if self.mask is None else self.mask.view(buf),
                None if self.chars is None else self.chars.view(buf))

    def get(self, views: tuple[np.ndarray, np.ndarray | None, np.ndarray | None], i: int) -> Any:
        """The value of record ``i`` (a copy), or None where absent."""
        rows, mask, chars = views
        if mask is not None and not mask[i]:
            return None
        row = rows[0 if self.constant else i]
        if self.kind == "array":
            return np.array(row, copy=True)
        if self.kind == "float":
            return float(row)
        if self.kind == "int":
            return int(row)
        if self.kind == "int_tuple":
            return tuple(int(x) for x in row)
        if self.kind == "category":
            return self.categories[int(row)]
        assert chars is not None  # "packed": rows are the (n + 1,) byte offsets into chars
        return self.prefix + chars[int(rows[i]):int(rows[i + 1])].tobytes().decode("utf-8")


class Datalist(Sequence[SampleRecord]):
    """A dataset's records, packed (see the module docstring). ``datalist[i]`` -> a new :class:`SampleRecord`."""

    def __init__(self, length: int, columns: dict[str, _Column], id_keys: tuple[str, ...],
                 buffer: torch.Tensor) -> None:
        self._length = length
        self._columns = columns
        self._id_keys = id_keys
        self._buffer = buffer
        self._views: dict[str, tuple] = {}
        self._views_ptr = -1

    @classmethod
    def from_records(cls, records: Iterable[SampleRecord]) -> "Datalist":
        """Pack ``records`` (any iterable, e.g. a reader's generator; consumed once). Every record must have the
        same ``ids`` keys and, per field, arrays of one dtype and shape (``ValueError`` / ``TypeError`` otherwise)."""
        builders: dict[str, _FieldBuilder] = {}
        id_keys: tuple[str, ...] = ()
        length = 0
        chunk: list[dict[str, Any]] = []
        for record in records:
            if not isinstance(record, SampleRecord):
                raise TypeError(f"datalist record {length}: expected a SampleRecord, got {type(record).__name__}")
            if length == 0:
                id_keys = tuple(record.ids)
                fields = _FIELDS + tuple((f"ids.{k}", "int") for k in id_keys)
                builders = {name: _FieldBuilder(name, kind) for name, kind in fields}
            elif tuple(record.ids) != id_keys:
                raise ValueError(f"datalist record {length}: ids keys {list(record.ids)} differ from the first "
                                 f"record's {list(id_keys)}")
            chunk.append(_flatten(record))
            length += 1
            if len(chunk) == _CHUNK:
                cls._add_chunk(builders, chunk, length - len(chunk))
                chunk = []
        cls._add_chunk(builders, chunk, length - len(chunk))
        finished = {name: b.finish() for name, b in builders.items()}
        return cls._pack(length, {k: v for k, v in finished.items() if v is not None}, id_keys)

    @staticmethod
    def _add_chunk(builders: dict[str, _FieldBuilder], chunk: list[dict[str, Any]], start: int) -> None:
        if chunk:
            for name, builder in builders.items():
                builder.add([flat[name] for flat in chunk], start)

    @classmethod
    def _pack(cls, length: int, finished: dict[str, dict[str, Any]], id_keys: tuple[str, ...]) -> "Datalist":
        arrays: list[tuple[str, str, np.ndarray]] = []
        for name, f in finished.items():
            arrays.append((name, "rows", np.ascontiguousarray(f["data"])))
            if f["mask"] is not None:
                arrays.append((name, "mask", np.ascontiguousarray(f["mask"])))
            if "chars" in f:
                arrays.append((name, "chars", f["chars"]))
        slots: dict[tuple[str, str], _Slot] = {}
        offset = 0
        for name, part, arr in arrays:
            slots[(name, part)] = _Slot(offset, arr.dtype.str, arr.shape)
            offset += -(-arr.nbytes // _ALIGN) * _ALIGN
        buffer = torch.zeros(offset, dtype=torch.uint8)
        buf = buffer.numpy()
        for name, part, arr in arrays:
            slot = slots[(name, part)]
            buf[slot.offset:slot.offset + arr.nbytes] = arr.reshape(-1).view(np.uint8)
        columns = {}
        for name, f in finished.items():
            columns[name] = _Column(name=name, kind=f["kind"], rows=slots[(name, "rows")],
                                    mask=slots.get((name, "mask")), constant=f["constant"],
                                    categories=f.get("categories", ()), chars=slots.get((name, "chars")),
                                    prefix=f.get("prefix", ""))
        return cls(length, columns, id_keys, buffer)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int | slice) -> Any:
        """Record ``index`` (a new :class:`SampleRecord`); a slice gives a list of records."""
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        i = int(index)
        if i < 0:
            i += self._length
        if not 0 <= i < self._length:
            raise IndexError(f"datalist index {index} out of range for {self._length} records")
        views = self._column_views()
        values = {name: None for name, _ in _FIELDS}
        for name, column in self._columns.items():
            values[name] = column.get(views[name], i)
        return _unflatten(values, self._id_keys)

    def _column_views(self) -> dict[str, tuple]:
        """NumPy views of the columns, rebuilt when the storage moved (pickling the datalist for a spawned worker
        moves it into shared memory and frees the old memory)."""
        ptr = self._buffer.data_ptr()
        if ptr != self._views_ptr:
            buf = self._buffer.numpy()
            self._views = {name: column.views(buf) for name, column in self._columns.items()}
            self._views_ptr = ptr
        return self._views

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_views={}, _views_ptr=-1)  # views are rebuilt where the buffer arrives
        return state

    def __iter__(self) -> Iterator[SampleRecord]:
        for i in range(self._length):
            yield self[i]

    @property
    def nbytes(self) -> int:
        """Size of the packed buffer in bytes."""
        return int(self._buffer.numel())

    def column_names(self) -> tuple[str, ...]:
        """The stored fields (fields absent from every record are not stored)."""
        return tuple(self._columns)
