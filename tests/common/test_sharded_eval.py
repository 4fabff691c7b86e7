"""Sharded evaluation: outputs carry their sample index, so any sharding / order / padding evaluates the same."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DistributedSampler

from common.sharded_eval import batch_to_samples, evaluate_samples, gather_samples, merge_results
from data.registry import build_dataset
from main.config import make_config


@pytest.fixture(scope="module")
def body_cfg(model_dir, synthetic_data_dir):
    return make_config(data_dir=synthetic_data_dir, human_model_dir=model_dir)


def test_batch_to_samples_splits_and_copies() -> None:
    out = {"mesh": torch.arange(24, dtype=torch.float32).reshape(2, 4, 3),
           "half": torch.ones(2, 3, dtype=torch.bfloat16) * 1.5, "trans": np.zeros((2, 2, 3), np.float32)}
    samples = batch_to_samples(out, torch.tensor([7, 3]))
    assert [i for i, _ in samples] == [7, 3] and all(type(i) is int for i, _ in samples)
    np.testing.assert_array_equal(samples[1][1]["mesh"], np.arange(12, 24, dtype=np.float32).reshape(4, 3))
    assert samples[0][1]["half"].dtype == np.float32 and samples[0][1]["half"].tolist() == [1.5, 1.5, 1.5]
    samples[0][1]["mesh"][:] = -1  # each sample owns its arrays
    assert float(out["mesh"].min()) == 0.0 and samples[1][1]["mesh"].min() == 12.0
    with pytest.raises(ValueError, match="output 'mesh' has shape"):
        batch_to_samples(out, [1, 2, 3])


def test_gather_samples_without_distributed_sorts_and_deduplicates() -> None:
    local = [(4, "e"), (1, "b"), (0, "a"), (4, "e-again"), (3, "d"), (2, "c"), (0, "a-again")]
    indices, items = gather_samples(local, expected_len=5)
    assert indices == [0, 1, 2, 3, 4] and items == ["a", "b", "c", "d", "e"]  # first occurrence kept
    with pytest.raises(ValueError, match=r"missing \[2\]"):
        gather_samples([(0, "a"), (1, "b"), (3, "d")], expected_len=4)
    with pytest.raises(ValueError, match=r"outside the range \[9\]"):
        gather_samples([(0, "a"), (9, "z")], expected_len=1)


def _fake_outputs(dataset, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """Network-like per-sample outputs (each sample its own crop affine and meshes), in datalist order."""
    outs = []
    for i in range(len(dataset)):
        _, targets, meta = dataset[i]
        assert meta["sample_idx"] == i
        out = {"joint_coord_img": rng.uniform(8, 56, (dataset.joint_num, 3)).astype(np.float32),
               "mesh_coord_img": rng.uniform(8, 56, (dataset.vertex_num, 3)).astype(np.float32),
               "bb2img_trans": meta["bb2img_trans"]}
        if dataset.name != "FreiHAND":
            out["mesh_coord_cam"] = rng.normal(0, 0.3, (dataset.vertex_num, 3)).astype(np.float32)
        if "fit_mesh_coord_cam" in targets:  # 3DPW's GT mesh, added by the tester as in a test run
            out["mesh_coord_cam_target"] = targets["fit_mesh_coord_cam"]
        outs.append(out)
    return outs


def _sharded_samples(outs: list[dict], world: int, batch: int, seed: int) -> list[tuple[int, dict]]:
    """What rank 0 receives from ``world`` shuffled, padded shards: each rank's batches split by batch_to_samples,
    ranks concatenated in rank order (the gather's order)."""
    received = []
    for rank in range(world):
        order = list(DistributedSampler(range(len(outs)), num_replicas=world, rank=rank, shuffle=True, seed=seed))
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            stacked = {k: torch.from_numpy(np.stack([outs[i][k] for i in idx])) for k in outs[0]}
            received += batch_to_samples(stacked, torch.tensor(idx))
    return received


@pytest.mark.parametrize("name, world", [("Human36M", 3), ("PW3D", 4)])
def test_shuffled_padded_shards_give_the_ordered_metrics(name, world, smpl, body_cfg) -> None:
    ds = build_dataset(name, body_cfg, "test", smpl)
    outs = _fake_outputs(ds, np.random.default_rng(0))
    ordered = ds.evaluate(outs, list(range(len(ds))))
    assert ordered == ds.evaluate(outs, 0)  # the original's cur_sample_idx form
    received = _sharded_samples(outs, world, batch=2, seed=1)
    assert len(received) > len(ds)  # padding repeated some samples
    indices, gathered = gather_samples(received, expected_len=len(ds))
    sharded = ds.evaluate(gathered, indices)
    assert sharded == ordered and len(ordered["mpjpe_lixel"]) == len(ds)
    # the lean path: evaluate per shard, gather the per-sample results
    indices, results = gather_samples(evaluate_samples(ds, received), expected_len=len(ds))
    assert merge_results(results) == ordered
    # the old assumption (outputs are consecutive samples) scores the received outputs against the wrong records
    assert ds.evaluate([o for _, o in received[:len(ds)]], 0) != ordered
    from_shards = ds.report(sharded, Path("unused")).lines
    assert from_shards == ds.report(ordered, Path("unused")).lines and "MPJPE from lixel mesh" in from_shards[0]


def test_shuffled_padded_shards_give_the_ordered_freihand_pred_json(mano, model_dir, synthetic_data_dir,
                                                                   tmp_path) -> None:
    cfg = make_config(data_dir=synthetic_data_dir, human_model_dir=model_dir, trainset_3d=["FreiHAND"],
                      trainset_2d=[], testset="FreiHAND")
    ds = build_dataset("FreiHAND", cfg, "test", mano)
    outs = _fake_outputs(ds, np.random.default_rng(1))

    def pred_json(eval_result: dict) -> bytes:
        return ds.report(eval_result, tmp_path).files["pred.json"]

    ordered = pred_json(ds.evaluate(outs, list(range(len(ds)))))
    indices, gathered = gather_samples(_sharded_samples(outs, world=3, batch=2, seed=2), expected_len=len(ds))
    assert pred_json(ds.evaluate(gathered, indices)) == ordered
    shuffled = [outs[i] for i in np.random.default_rng(3).permutation(len(ds))]
    assert pred_json(ds.evaluate(shuffled, 0)) != ordered  # without indices the order is lost


def test_evaluate_index_errors(smpl, body_cfg) -> None:
    ds = build_dataset("Human36M", body_cfg, "test", smpl)
    out = _fake_outputs(ds, np.random.default_rng(0))[0]
    with pytest.raises(ValueError, match="1 outputs but 2 sample indices"):
        ds.evaluate([out], [0, 1])
    with pytest.raises(IndexError, match=f"sample index {len(ds)} outside the test set"):
        ds.evaluate([out], [len(ds)])
