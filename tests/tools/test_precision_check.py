"""tools/precision_check.py: fp32 against bf16 on one snapshot, through the test driver."""
import json

import numpy as np
import torch

from common.checkpoint import save_checkpoint, snapshot_path
from main.model import I2LMeshNet
from tools.precision_check import run_precision_check
from tools.stand_in_weights import conditioned_init


def test_precision_check_compares_bf16_with_fp32(smpl, synthetic_data_dir, model_dir, tmp_path):
    # stand-in weights that behave like a working network: with the construction-time init, bf16 and fp32 give
    # identical joints here (the heads' logits run in float32 under autocast)
    net = I2LMeshNet(smpl, stage="param")
    conditioned_init(net, seed=5)
    snapshot = save_checkpoint(snapshot_path(tmp_path / "snap", 3), net, None, 3, extra={"stage": "param"})
    work = tmp_path / "work"
    results = run_precision_check(snapshot, ["bf16"], work, torch.device("cpu"), data_dir=synthetic_data_dir,
                                  human_model_dir=model_dir, test_batch_size=3, num_thread=0)
    assert list(results) == ["fp32", "bf16"]
    fp32, bf16 = results["fp32"]["metrics"], results["bf16"]["metrics"]
    assert {"mpjpe_lixel", "mpjpe_param", "mpvpe_lixel"} <= fp32.keys() == bf16.keys()
    # the reported changes are those of the metric files the two runs wrote
    files = {amp: json.loads(next((work / amp / "result").glob("metrics_*.json")).read_text()) for amp in results}
    for key in fp32:
        assert np.isclose(results["bf16"]["mean_diff"][key], bf16[key] - fp32[key])
        assert np.isclose(fp32[key], files["fp32"]["metrics"][key])
    joints = {amp: np.load(next((work / amp / "result").glob("predictions_*.npz")))["joint_coord_img"]
              for amp in results}
    diff = float(np.abs(joints["bf16"] - joints["fp32"]).max())
    assert diff == results["bf16"]["max_abs_diff_joint_coord_img"]
    assert 0 < diff < 64  # bf16 moves the joints, within the heat-map
