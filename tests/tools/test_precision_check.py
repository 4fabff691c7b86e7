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
    torch.manual_seed(5)  # the trunks keep their construction-time weights: seeded, the bounds below are reproducible
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
    change = np.abs(joints["bf16"] - joints["fp32"])
    assert float(change.max()) == results["bf16"]["max_abs_diff_joint_coord_img"]
    # bf16 (8 significant bits) in both trunks and the heads' deconvolutions moves the joints by a small fraction of a
    # heat-map bin on average and by about one bin at most (6 samples x 29 joints: mean 0.075, max 1.45 here; 0.055 to
    # 0.075 and 1.2 to 1.6 over other seeds); a bf16 path that computes something else moves them by many bins
    assert 0 < change.mean() < 0.25 and change.max() < 4
