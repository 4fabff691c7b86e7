"""Safe reader for the official SMPL / MANO model files (``.pkl``), without chumpy.

The official files are Python-2, protocol-2 pickles.  Some arrays inside them are ``chumpy.ch.Ch``
objects, the joint regressor is a ``scipy.sparse.csc_matrix``.  A pickle can run arbitrary code, so
this module unpickles with an allow-list of globals: anything else is refused with
:class:`UnsafePickleError`.  Chumpy objects are rebuilt as :class:`ChumpyArray` placeholders whose
state holds the plain array under ``x``; :func:`load_model_file` converts every value to plain NumPy
(dense float arrays, a dense ``J_regressor``) so the rest of the code never sees chumpy or scipy types.
"""
from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from common.errors import UserError

__all__ = ["UnsafePickleError", "ModelFileError", "ChumpyArray", "restricted_load", "load_model_file"]


class UnsafePickleError(pickle.UnpicklingError):
    """Raised when a pickle references a global outside the allow-list."""


class ModelFileError(UserError, RuntimeError):
    """Raised when a model file is missing or lacks a required key."""


class ChumpyArray:
    """Stand-in for ``chumpy.ch.Ch``: unpickled empty, then given its ``__dict__`` state.

    The numeric value of a chumpy object is stored in its state under ``x``.
    """

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def to_numpy(self) -> np.ndarray:
        if "x" not in self.__dict__:
            raise ValueError("chumpy object without a value ('x') in its state")
        return np.asarray(self.__dict__["x"])


def _numpy_reconstruct(*args: Any) -> np.ndarray:
    # ``numpy.core.multiarray._reconstruct`` under both its NumPy 1 and NumPy 2 module names.
    return np.ndarray.__new__(*args)


def _numpy_scalar(dtype: np.dtype, data: bytes | None = None) -> np.generic:
    # ``numpy.core.multiarray.scalar``: a NumPy scalar rebuilt from its dtype and raw bytes.
    if not isinstance(dtype, np.dtype):
        raise UnsafePickleError(f"numpy scalar with a non-dtype argument {type(dtype).__name__}")
    return np.frombuffer(data if data is not None else b"", dtype=dtype, count=1)[0]


# (module, name) -> object returned to the unpickler.  Only data containers, no callables with effects.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("chumpy.ch", "Ch"): ChumpyArray,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("scipy.sparse.csc", "csc_matrix"): scipy.sparse.csc_matrix,
    ("scipy.sparse._csc", "csc_matrix"): scipy.sparse.csc_matrix,
    ("scipy.sparse._csc", "csc_array"): scipy.sparse.csc_array,
    ("__builtin__", "set"): set,
    ("builtins", "set"): set,
    ("_codecs", "encode"): codecs.encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, source: str) -> None:
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self._source}: refusing to load global '{module}.{name}' - it is not one of the "
                "classes an SMPL/MANO model file contains (numpy arrays, chumpy arrays, scipy csc "
                "matrices). The file is not an official model file or has been tampered with."
            ) from None


def restricted_load(path: str | Path) -> Any:
    """Unpickle ``path`` allowing only the globals found in official SMPL/MANO files.

    Raises:
        UnsafePickleError: the pickle references any other global (it could run code).
    """
    path = Path(path)
    with path.open("rb") as f:
        return _RestrictedUnpickler(f, str(path)).load()


def _to_plain(value: Any) -> Any:
    if isinstance(value, ChumpyArray):
        return value.to_numpy()
    if scipy.sparse.issparse(value):
        return np.asarray(value.toarray())
    return value


def load_model_file(path: str | Path, required_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read an official SMPL/MANO ``.pkl`` into a dict of plain NumPy values.

    Chumpy arrays become ``np.ndarray``, the sparse ``J_regressor`` becomes dense ``float64``.

    Args:
        path: the ``.pkl`` file.
        required_keys: keys that must be present; a missing one raises :class:`ModelFileError`.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    data = restricted_load(path)
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: expected a dict at the top level, found {type(data).__name__}")
    out = {}
    for key, value in data.items():
        try:
            out[key] = _to_plain(value)
        except ValueError as exc:
            raise ModelFileError(f"{path}: key '{key}': {exc}") from exc
    missing = [k for k in required_keys if k not in out]
    if missing:
        raise ModelFileError(f"{path}: missing key(s) {missing}; found {sorted(out)}")
    return out
