"""The packed datalist gives back exactly the records it was built from (values, dtypes, types), compactly."""
from __future__ import annotations

import copy
import pickle
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from data.datalist import Datalist
from data.records import CameraParams, ModelParams, SampleRecord


def _record(rng: np.random.Generator, n: int, *, cam: str = "Rt", params: bool = True, depth: bool = True,
            native: bool = True) -> SampleRecord:
    camera = None
    if cam:
        camera = CameraParams.make(rng.uniform(500, 1500, 2), rng.uniform(200, 600, 2),
                                   rng.normal(size=(3, 3)) if cam == "Rt" else None,
                                   rng.normal(size=3) * 1000 if cam == "Rt" else None)
    model = None
    if params:
        model = ModelParams.make(rng.normal(size=72), rng.normal(size=10), rng.normal(size=3),
                                 ("male", "female", "neutral")[n % 3])
    return SampleRecord(
        img_path=Path("/data/Human36M/images") / f"s_{n:02d}" / f"frame_{n:06d}_ü.jpg",
        img_shape=(1002, 1000 + n % 2), bbox=rng.uniform(0, 500, 4),
        cam=camera, root_depth=float(rng.uniform(3000, 6000)) if depth else None,
        joint_img=rng.normal(size=(17, 3)).astype(np.float32) if native else None,
        joint_cam=rng.normal(size=(17, 3)).astype(np.float32) if native else None,
        joint_valid=np.ones((17, 1), np.float32) if native else None, params=model,
        ids={"image_id": 10 * n, "ann_id": 10 * n + 1})


def _assert_same(a: SampleRecord, b: SampleRecord) -> None:
    for f in fields(SampleRecord):
        x, y = getattr(a, f.name), getattr(b, f.name)
        _assert_same_value(x, y, f.name)


def _assert_same_value(x, y, name: str) -> None:
    assert type(x) is type(y), name
    if isinstance(x, np.ndarray):
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name
    elif isinstance(x, (CameraParams, ModelParams)):
        for f in fields(x):
            _assert_same_value(getattr(x, f.name), getattr(y, f.name), f"{name}.{f.name}")
    elif isinstance(x, dict):
        assert list(x) == list(y), name
        for k in x:
            _assert_same_value(x[k], y[k], f"{name}[{k}]")
    else:
        assert x == y and (not isinstance(x, tuple) or all(type(p) is type(q) for p, q in zip(x, y))), name


def test_round_trip_with_missing_fields() -> None:
    rng = np.random.default_rng(0)
    records = [_record(rng, n, cam=("Rt", "", "plain")[n % 3], params=n % 4 != 1, depth=n % 5 != 2,
                       native=n % 7 != 3) for n in range(40)]
    records[5].bbox[0] = -0.0  # a signed zero survives
    datalist = Datalist.from_records(iter(records))
    assert len(datalist) == 40
    for n, record in enumerate(records):
        _assert_same(datalist[n], record)
    _assert_same(datalist[-1], records[-1])
    assert [r.ids["image_id"] for r in datalist] == [10 * n for n in range(40)]
    assert [r.ids for r in datalist[3:6]] == [r.ids for r in records[3:6]]
    assert np.signbit(datalist[5].bbox[0])
    with pytest.raises(IndexError, match="datalist index 40 out of range for 40 records"):
        datalist[40]


def test_records_are_independent_copies_and_pickle_round_trip() -> None:
    rng = np.random.default_rng(1)
    records = [_record(rng, n) for n in range(10)]
    datalist = Datalist.from_records(records)
    first = datalist[0]
    first.bbox[:] = 0
    first.params.pose[:] = 0
    _assert_same(datalist[0], records[0])
    for clone in (pickle.loads(pickle.dumps(datalist)), copy.deepcopy(datalist)):
        for n, record in enumerate(records):
            _assert_same(clone[n], record)


def test_compact_layout() -> None:
    """A Human3.6M-like record (17 joints, SMPL fit, camera with R, t) packs into under 1 KB; fields absent from
    every record are not stored and byte-identical rows are stored once."""
    rng = np.random.default_rng(2)
    records = [_record(rng, n) for n in range(1000)]
    for r in records:
        r.img_shape = (1002, 1000)
    datalist = Datalist.from_records(records)
    assert datalist.nbytes / len(datalist) < 1000
    assert "root_depth" in datalist.column_names()
    no_native = Datalist.from_records(_record(rng, n, native=False, depth=False) for n in range(20))
    assert not {"joint_img", "joint_cam", "joint_valid", "root_depth"} & set(no_native.column_names())
    assert no_native[3].joint_img is None and no_native[3].root_depth is None
    constant = Datalist.from_records(records[:1] * 50)
    assert constant.nbytes < 2 * Datalist.from_records(records[:1]).nbytes
    _assert_same(constant[49], records[0])
    empty = Datalist.from_records([])
    assert len(empty) == 0 and list(empty) == []


def test_inconsistent_records_are_refused() -> None:
    rng = np.random.default_rng(3)
    good = _record(rng, 0)
    other_dtype = _record(rng, 1)
    other_dtype.bbox = other_dtype.bbox.astype(np.float32)
    with pytest.raises(ValueError, match=r"record 1: field 'bbox' has dtype float32"):
        Datalist.from_records([good, other_dtype])
    other_ids = _record(rng, 1)
    other_ids.ids = {"image_id": 3}
    with pytest.raises(ValueError, match=r"record 1: ids keys \['image_id'\] differ"):
        Datalist.from_records([good, other_ids])
    listed = _record(rng, 1)
    listed.bbox = [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(TypeError, match="field 'bbox' must be a NumPy array"):
        Datalist.from_records([good, listed])
    with pytest.raises(TypeError, match="expected a SampleRecord"):
        Datalist.from_records([good, {"img_path": "x"}])
