"""The restricted reader of official SMPL/MANO .pkl files: chumpy-style pickles in, foreign globals refused."""
import pickle
import pickletools
import sys
import types

import numpy as np
import pytest
import scipy.sparse

from common.utils.model_files import ModelFileError, UnsafePickleError, load_model_file, restricted_load


class _Ch:  # mimics chumpy.ch.Ch: an object whose state holds the value under 'x'
    def __init__(self, x):
        self.x = x
        self._dirty_vars = set()


def _write_chumpy_style_pickle(path, data):
    fake = types.ModuleType("chumpy.ch")
    _Ch.__module__, _Ch.__qualname__ = "chumpy.ch", "Ch"
    fake.Ch = _Ch
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    sys.modules["chumpy"] = types.ModuleType("chumpy")
    sys.modules["chumpy.ch"] = fake
    try:
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=2)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def _globals_in(path):
    found, strings = set(), []
    for op, arg, _ in pickletools.genops(open(path, "rb").read()):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "SHORT_BINSTRING", "BINSTRING"):
            strings.append(arg)
        if op.name == "GLOBAL":
            found.add(arg)
        if op.name == "STACK_GLOBAL":
            found.add(f"{strings[-2]} {strings[-1]}")
    return found


def test_reads_chumpy_arrays_sparse_regressor_and_plain_values(tmp_path):
    rng = np.random.default_rng(0)
    v_template = rng.normal(size=(10, 3))
    regressor = scipy.sparse.random(4, 10, density=0.3, format="csc", random_state=0)
    data = {"v_template": _Ch(v_template), "shapedirs": _Ch(rng.normal(size=(10, 3, 2))),
            "J_regressor": regressor, "f": np.arange(12, dtype=np.uint32).reshape(4, 3),
            "kintree_table": np.array([[4294967295, 0, 1, 1], [0, 1, 2, 3]]), "bs_type": "lrotmin"}
    path = tmp_path / "model.pkl"
    _write_chumpy_style_pickle(path, data)
    assert "chumpy.ch Ch" in _globals_in(path)
    out = load_model_file(path, required_keys=("v_template", "J_regressor"))
    assert isinstance(out["v_template"], np.ndarray) and isinstance(out["shapedirs"], np.ndarray)
    np.testing.assert_array_equal(out["v_template"], v_template)
    np.testing.assert_array_equal(out["J_regressor"], regressor.toarray())
    np.testing.assert_array_equal(out["f"], data["f"])
    assert out["bs_type"] == "lrotmin"


def test_missing_required_key_and_missing_file_are_named(tmp_path):
    path = tmp_path / "m.pkl"
    _write_chumpy_style_pickle(path, {"v_template": _Ch(np.zeros((2, 3)))})
    with pytest.raises(ModelFileError, match=r"m\.pkl.*posedirs"):
        load_model_file(path, required_keys=("posedirs",))
    with pytest.raises(ModelFileError, match="nothere.pkl"):
        load_model_file(tmp_path / "nothere.pkl")


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("touch pwned_by_pickle",))


def test_refuses_a_pickle_with_a_foreign_global(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump({"v_template": np.zeros(3), "payload": _Evil()}, f, protocol=2)
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl.*(posix|os)\.system"):
        restricted_load(path)
    assert not (tmp_path / "pwned_by_pickle").exists()


def test_refuses_builtins_eval(tmp_path):
    path = tmp_path / "eval.pkl"
    path.write_bytes(b"\x80\x02c__builtin__\neval\nq\x00X\x06\x00\x00\x001+1+1+q\x01\x85q\x02Rq\x03.")
    with pytest.raises(UnsafePickleError, match="__builtin__.eval"):
        restricted_load(path)


def test_chumpy_object_without_value_is_reported_with_file_and_key(tmp_path):
    broken = _Ch(np.zeros(3))
    del broken.x
    path = tmp_path / "broken.pkl"
    _write_chumpy_style_pickle(path, {"v_template": broken})
    with pytest.raises(ModelFileError, match=r"broken\.pkl: key 'v_template'"):
        load_model_file(path)
