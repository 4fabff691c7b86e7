"""DataLoader workers: epoch bookkeeping, OpenCV threads, shared CPU layers, thread-independent targets, datalists
passed to spawned workers through shared memory."""
from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
import smplx
import torch
from smplx.utils import Struct
from torch.utils.data import DataLoader

from common.utils.human_models import SMPL
from common.utils.model_files import load_model_file
from data.datalist import Datalist
from data.loader import install_fork_guard, worker_init_fn
from data.mixer import MultipleDatasets, build_train_dataset
from data.registry import build_dataset
from main.config import make_config


@pytest.fixture(scope="module")
def cfg(model_dir, synthetic_data_dir):
    return make_config(data_dir=synthetic_data_dir, human_model_dir=model_dir)


def _leaves(dataset) -> list:
    if isinstance(dataset, MultipleDatasets):
        return [leaf for member in dataset.datasets for leaf in _leaves(member)]
    return [dataset]


def test_training_sample_before_set_epoch_raises(cfg, smpl) -> None:
    muco = build_dataset("MuCo", cfg, "train", smpl)
    with pytest.raises(RuntimeError, match=r"MuCo \(train\): the training epoch was never set; call set_epoch"):
        muco[0]
    mixer = build_train_dataset(cfg, smpl)
    with pytest.raises(RuntimeError, match=r"MultipleDatasets .*call set_epoch\(e\)"):
        mixer[0]
    with pytest.raises(ValueError, match="must be >= 0"):
        mixer.set_epoch(-1)
    assert build_dataset("PW3D", cfg, "test", smpl)[0][2]["sample_idx"] == 0  # test sets have no epoch


def test_set_epoch_reaches_nested_members(cfg, smpl) -> None:
    mixer = build_train_dataset(cfg, smpl)  # (Human36M + MuCo) mixed 1:1 with MSCOCO
    leaves = _leaves(mixer)
    assert [d.name for d in leaves] == ["Human36M", "MuCo", "MSCOCO"]
    mixer.set_epoch(3)
    assert all(d.epoch == 3 for d in leaves) and all(m.epoch == 3 for m in mixer.datasets)
    index = len(mixer) - 1
    member, local = mixer.locate(index)
    inner, j = mixer.datasets[member].locate(local)
    expected = mixer.datasets[member].datasets[inner].get_sample(j, index)
    assert torch.equal(mixer[index][0]["img"], expected[0]["img"])


class _OpenCVThreads(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> int:
        return cv2.getNumThreads()


def test_worker_init_fn_opencv_single_threaded_after_a_busy_parent() -> None:
    """The parent's OpenCV pool is running when the workers fork: worker_init_fn must neither hang nor leave the
    workers multi-threaded, and the parent keeps its thread count.  (make_loader installs the fork guard; this
    loader is built by hand, so it installs it too.)"""
    install_fork_guard()
    threads = cv2.getNumThreads()
    image = np.random.default_rng(0).random((1500, 1500, 3), dtype=np.float32)
    cv2.warpAffine(image, np.array([[1.0, 0.1, 2.0], [0.05, 1.0, 1.0]]), (1500, 1500))  # starts the pool
    loader = DataLoader(_OpenCVThreads(), batch_size=None, num_workers=2, worker_init_fn=worker_init_fn, timeout=60)
    assert list(loader) == [1, 1, 1, 1]
    assert cv2.getNumThreads() == threads


def test_sample_layers_are_shared_and_float32(cfg, smpl, model_dir) -> None:
    a = build_dataset("MuCo", cfg, "train", smpl)
    b = build_dataset("PW3D", cfg, "test", smpl)
    layer = a.human_model.layer()
    assert b.human_model.layer() is layer and smpl.layer() is not layer  # one CPU layer per process
    assert b.human_model.layer("female") is a.human_model.layer("female")
    a2, b2 = pickle.loads(pickle.dumps((a, b)))  # what a spawned worker receives
    assert a2.human_model.layer() is b2.human_model.layer() and a2.human_model.layer() is not layer
    data = smpl.model_data("neutral")
    assert all(v.dtype == np.float32 for v in data.values() if isinstance(v, np.ndarray) and v.dtype.kind == "f")
    # a layer built from the file's float64 arrays computes the same (smplx casts to float32 either way)
    raw = load_model_file(model_dir / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl")
    ref = smplx.SMPL(model_path=str(model_dir), data_struct=Struct(**raw), create_betas=False,
                     create_global_orient=False, create_body_pose=False, create_transl=False)
    for name, buf in layer.named_buffers():
        assert torch.equal(buf, dict(ref.named_buffers())[name]), name


def test_targets_do_not_depend_on_the_thread_count(cfg, smpl, monkeypatch) -> None:
    ds = build_dataset("Human36M", cfg, "train", smpl)
    ds.set_epoch(0)
    seen_threads = []
    forward = SMPL.forward

    def spy(self, *args, **kwargs):
        seen_threads.append(torch.get_num_threads())
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(SMPL, "forward", spy)
    previous = torch.get_num_threads()
    samples = {}
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            samples[threads] = [ds[i] for i in range(len(ds))]
            assert torch.get_num_threads() == threads  # restored after the single-threaded forward
    finally:
        torch.set_num_threads(previous)
    assert seen_threads and set(seen_threads) == {1}
    for threads in (2, 3):
        for (_, t1, m1), (_, tn, mn) in zip(samples[1], samples[threads]):
            for key in t1:
                assert t1[key].tobytes() == tn[key].tobytes(), key
            assert m1["is_valid_fit"] == mn["is_valid_fit"]


class _Records(torch.utils.data.Dataset):
    """Hands out records of a datalist, and whether its buffer is in shared memory in this process."""

    def __init__(self, datalist: Datalist) -> None:
        self.datalist = datalist

    def __len__(self) -> int:
        return len(self.datalist)

    def __getitem__(self, i: int) -> tuple:
        r = self.datalist[i]
        pose = None if r.params is None else r.params.pose
        return str(r.img_path), r.bbox, pose, self.datalist._buffer.is_shared()


def test_datalist_reaches_spawned_workers_through_shared_memory(cfg, smpl) -> None:
    datalist = build_dataset("Human36M", cfg, "train", smpl).datalist
    before = [datalist[i] for i in range(len(datalist))]
    assert not datalist._buffer.is_shared()
    loader = DataLoader(_Records(datalist), batch_size=None, num_workers=1, multiprocessing_context="spawn",
                        timeout=120)
    got = list(loader)
    assert len(got) == len(before) > 0 and datalist._buffer.is_shared()  # moved once, not copied per worker
    for (path, bbox, pose, shared), record in zip(got, before):
        assert shared and path == str(record.img_path) and bbox.numpy().tobytes() == record.bbox.tobytes()
        assert (pose is None) == (record.params is None)
        assert pose is None or pose.numpy().tobytes() == record.params.pose.tobytes()
    for i, record in enumerate(before):  # the parent reads the storage where it now lives
        assert datalist[i].bbox.tobytes() == record.bbox.tobytes() and datalist[i].img_path == record.img_path
