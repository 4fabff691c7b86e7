"""Protocol-2 pickles that look like the 2016-era (Python 2, chumpy) official SMPL / MANO files.

Chumpy ``Ch`` objects are rebuilt by ``NEWOBJ`` + ``BUILD`` with the array under ``x``, ndarrays go through
``numpy.core.multiarray._reconstruct``, raw bytes and text are Python-2 strings, and ``J_regressor`` is a
``scipy.sparse.csc.csc_matrix``.  The files load with :func:`common.utils.model_files.load_model_file`; see
docs/body_models.md for the format.
"""
from __future__ import annotations

import copyreg
import io
import pickle
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse

# Which arrays are stored as chumpy objects (the others as plain ndarrays), as in the official files.
SMPL_CHUMPY_KEYS = ("v_template", "shapedirs", "posedirs", "weights", "J")
MANO_CHUMPY_KEYS = ("v_template", "shapedirs", "posedirs", "weights", "J", "hands_components", "hands_mean")


class _Ch:
    """Written as ``chumpy.ch.Ch``: rebuilt empty (NEWOBJ) and given ``{'x': array, ...}`` (BUILD)."""

    __slots__ = ("x",)

    def __init__(self, x: np.ndarray) -> None:
        self.x = x


def _np_reconstruct(*args):  # pragma: no cover - identity token, written as the NumPy 1 global
    raise NotImplementedError


# objects -> (module, name) under which they are written
_LEGACY_GLOBALS = {
    _Ch: ("chumpy.ch", "Ch"),
    _np_reconstruct: ("numpy.core.multiarray", "_reconstruct"),
    np.ndarray: ("numpy", "ndarray"),
    np.dtype: ("numpy", "dtype"),
    scipy.sparse.csc_matrix: ("scipy.sparse.csc", "csc_matrix"),
}


class _LegacyPickler(pickle._Pickler):
    """Pure-Python pickler (protocol 2) emitting Python-2 era globals and strings."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file) -> None:
        super().__init__(file, protocol=2)

    def save_global(self, obj, name=None):
        target = _LEGACY_GLOBALS.get(obj) if isinstance(obj, type) or callable(obj) else None
        if target is None:
            return super().save_global(obj, name)
        self.write(pickle.GLOBAL + f"{target[0]}\n{target[1]}\n".encode("ascii"))
        self.memoize(obj)

    dispatch[type(_np_reconstruct)] = save_global

    def _write_string(self, data: bytes) -> None:
        # Python 2 ``str``: SHORT_BINSTRING / BINSTRING (read back as latin-1 text)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]))
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)))
        self.write(data)

    def save_str(self, obj: str) -> None:
        self._write_string(obj.encode("latin-1"))
        self.memoize(obj)

    def save_bytes(self, obj: bytes) -> None:
        self._write_string(bytes(obj))
        self.memoize(obj)

    dispatch[str] = save_str
    dispatch[bytes] = save_bytes

    def reducer_override(self, obj):
        if type(obj) is np.ndarray:
            if obj.dtype.hasobject:
                raise pickle.PicklingError("object arrays are not supported")
            arr = np.ascontiguousarray(obj)
            state = (1, tuple(int(s) for s in arr.shape), arr.dtype, False, arr.tobytes())
            return (_np_reconstruct, (np.ndarray, (0,), b"b"), state)
        if isinstance(obj, np.dtype):
            order = "|" if obj.itemsize == 1 else "<"
            if obj.byteorder == ">":
                raise pickle.PicklingError("big-endian arrays are not supported")
            return (np.dtype, (obj.str[1:], False, True), (3, order, None, None, None, -1, -1, 0))
        if isinstance(obj, _Ch):
            return (copyreg.__newobj__, (_Ch,), {"x": obj.x, "_dirty_vars": set()})
        if type(obj) is scipy.sparse.csc_matrix:
            state = {"_shape": tuple(int(s) for s in obj.shape), "maxprint": 50,
                     "indices": obj.indices.astype(np.int32), "indptr": obj.indptr.astype(np.int32),
                     "data": obj.data.astype(np.float64)}
            return (copyreg.__newobj__, (scipy.sparse.csc_matrix,), state)
        return NotImplemented


def write_model_pickle(model: dict, path, chumpy_keys: Sequence[str] = ()) -> Path:
    """Write ``model`` like an official SMPL/MANO file (keys in ``chumpy_keys`` as chumpy objects).

    Float arrays are stored as float64, sparse matrices as float64 csc; the file is replaced atomically.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, value in model.items():
        if key in chumpy_keys:
            value = _Ch(np.asarray(value, dtype=np.float64))
        elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
            value = np.asarray(value, dtype=np.float64)
        elif scipy.sparse.issparse(value):
            value = scipy.sparse.csc_matrix(value, dtype=np.float64)
        out[key] = value
    buf = io.BytesIO()
    _LegacyPickler(buf).dump(out)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    return path
