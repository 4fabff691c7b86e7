"""Datasets and network together: collated training batches give finite losses, test batches evaluate end to end."""
import json

import numpy as np
import torch
from torch.utils.data import DataLoader

from data.mixer import build_train_dataset
from data.registry import build_dataset
from main.config import make_config
from main.model import I2LMeshNet
from main.tester import evaluation_inputs


def _per_sample(out: dict) -> list[dict]:
    """The test driver's split of a batch of outputs into per-sample NumPy dicts (docs/evaluation.md#test-driver)."""
    out = {k: v.detach().cpu().numpy() for k, v in out.items()}
    batch = next(iter(out.values())).shape[0]
    return [{k: v[i] for k, v in out.items()} for i in range(batch)]


def test_body_training_batch_and_3dpw_evaluation(smpl, model_dir, synthetic_data_dir, tmp_path):
    cfg = make_config(data_dir=synthetic_data_dir, human_model_dir=model_dir)
    torch.manual_seed(0)
    net = I2LMeshNet(smpl, stage="lixel")
    train_set = build_train_dataset(cfg, smpl)
    train_set.set_epoch(0)
    inputs, targets, meta = next(iter(DataLoader(train_set, batch_size=2, shuffle=False)))
    # Python floats collate to float64 (docs/quirks.md#q-float64-masks)
    assert meta["is_valid_fit"].dtype == torch.float64
    net.train()
    for stage in ("lixel", "param"):
        net.stage = stage
        loss = net(inputs, targets, meta, "train")
        total = sum(v.mean() for v in loss.values())
        assert torch.isfinite(total)
        total.backward()

    test_set = build_dataset("PW3D", cfg, "test", smpl)
    net.eval()
    results: dict[str, list] = {}
    seen = 0
    for inputs, targets, meta in DataLoader(test_set, batch_size=4, shuffle=False):
        with torch.no_grad():
            out = evaluation_inputs(net(inputs, targets, meta, "test"), targets, meta)
        assert "mesh_coord_cam_target" in out and "mesh_coord_cam" in out
        for key, values in test_set.evaluate(_per_sample(out), meta["sample_idx"]).items():
            results.setdefault(key, []).extend(values)
        seen += inputs["img"].shape[0]
    assert seen == len(test_set) and len(results["mpjpe_lixel"]) == len(test_set)
    assert all(np.isfinite(results[k]).all() for k in ("mpjpe_lixel", "pa_mpjpe_lixel", "mpjpe_param"))
    printed = "\n".join(test_set.report(results, tmp_path).lines)
    for line in ("MPJPE from lixel mesh:", "PA MPJPE from lixel mesh:", "MPJPE from param mesh:",
                 "PA MPJPE from param mesh:"):
        assert line in printed


def test_hand_training_batch_and_freihand_pred_json(mano, model_dir, synthetic_data_dir, tmp_path):
    cfg = make_config(data_dir=synthetic_data_dir, human_model_dir=model_dir, trainset_3d=["FreiHAND"],
                      trainset_2d=[], testset="FreiHAND", output_dir=tmp_path)
    torch.manual_seed(0)
    net = I2LMeshNet(mano, stage="lixel")
    train_set = build_train_dataset(cfg, mano)
    train_set.set_epoch(0)
    inputs, targets, meta = next(iter(DataLoader(train_set, batch_size=2)))
    net.train()
    loss = net(inputs, targets, meta, "train")
    assert torch.isfinite(sum(v.mean() for v in loss.values()))

    test_set = build_dataset("FreiHAND", cfg, "test", mano)
    net.eval()
    results: dict[str, list] = {}
    seen = 0
    for inputs, targets, meta in DataLoader(test_set, batch_size=3):
        with torch.no_grad():
            out = evaluation_inputs(net(inputs, targets, meta, "test"), targets, meta)
        for key, values in test_set.evaluate(_per_sample(out), meta["sample_idx"]).items():
            results.setdefault(key, []).extend(values)
        seen += inputs["img"].shape[0]
    report = test_set.report(results, tmp_path)
    assert report.lines[0] == f"Saved at {tmp_path / 'pred.json'}"
    assert report.lines[1].startswith("FreiHAND scores on 4 samples")  # the synthetic set has local ground truth
    pred = json.loads(report.files["pred.json"])
    assert len(pred) == 2 and len(pred[0]) == len(test_set) and np.asarray(pred[1][0]).shape == (778, 3)
