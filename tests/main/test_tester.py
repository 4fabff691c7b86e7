"""Test driver: snapshot lookup, sharded testing equal to one process, result files, the original's commands."""
import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from common.checkpoint import CheckpointError, load_checkpoint_file, load_network, snapshot_path
from common.launch import DistContext, launch
from common.sampler import EpochSampler
from main.config import make_config
from main.tester import Tester, resolve_snapshot, run_test_process

ROOT = Path(__file__).resolve().parents[2]
CPU = DistContext(0, 1, 0, torch.device("cpu"))


def test_missing_test_epoch_lists_the_epochs_that_exist(tmp_path):
    cfg = make_config(output_dir=tmp_path)
    cfg.model_dir.mkdir(parents=True)
    for epoch in (3, 12):
        snapshot_path(cfg.model_dir, epoch).write_bytes(b"")
    (cfg.model_dir / "resume_mid_epoch.pth").write_bytes(b"")
    assert resolve_snapshot(cfg, 12, None) == snapshot_path(cfg.model_dir, 12)
    with pytest.raises(CheckpointError, match=r"--test_epoch 7: cannot find model at .*snapshot_7\.pth\.tar "
                                                r"\(epochs available there: \[3, 12\]\)"):
        resolve_snapshot(cfg, 7, None)
    with pytest.raises(CheckpointError, match="--model_path .*nope.pth.tar: file not found"):
        resolve_snapshot(cfg, None, tmp_path / "nope.pth.tar")


# body_snapshot: the session's random body snapshot_7.pth.tar (tests/conftest.py)


def _pw3d_cfg(data_dir, model_dir, out):
    return make_config(data_dir=data_dir, human_model_dir=model_dir, output_dir=out, stage="param",
                       test_batch_size=2, num_thread=0)


@pytest.mark.slow
def test_sharded_testing_drops_the_padding_and_gives_the_single_process_metrics(synthetic_data_dir, model_dir,
                                                                              body_snapshot, tmp_path):
    """4 processes over the 6 samples: the sampler pads to 8 (samples 0 and 1 run twice); rank 0 keeps each sample
    once, so the metrics and result files equal a single process's."""
    single = _pw3d_cfg(synthetic_data_dir, model_dir, tmp_path / "single")
    metrics = Tester(single, CPU, model_path=body_snapshot).run()
    assert {"mpjpe_lixel", "pa_mpjpe_lixel", "mpjpe_param", "pa_mpjpe_param", "mpvpe_lixel"} <= metrics.keys()
    assert all(np.isfinite(v) for v in metrics.values())
    sharded = _pw3d_cfg(synthetic_data_dir, model_dir, tmp_path / "sharded")
    shards = [list(EpochSampler(6, rank, 4, shuffle=False)) for rank in range(4)]
    assert sorted(i for shard in shards for i in shard) == [0, 0, 1, 1, 2, 3, 4, 5]  # the tester's sampler pads
    launch(run_test_process, (), sharded, None, str(body_snapshot), cpu_processes=4)
    files = {cfg: json.loads((cfg.result_dir / "metrics_PW3D_param_7.json").read_text()) for cfg in (single, sharded)}
    assert files[single]["samples"] == files[sharded]["samples"] == 6
    # equal up to float rounding: a process batches other samples together (oneDNN kernels differ by batch shape)
    for key, value in files[single]["metrics"].items():
        assert files[sharded]["metrics"][key] == pytest.approx(value, rel=1e-5), key
    a, b = (np.load(cfg.result_dir / "predictions_PW3D_param_7.npz") for cfg in (single, sharded))
    assert a["sample_idx"].tolist() == b["sample_idx"].tolist() == list(range(6))
    np.testing.assert_allclose(b["mpjpe_lixel"], a["mpjpe_lixel"], rtol=1e-5)
    np.testing.assert_allclose(b["joint_coord_img"], a["joint_coord_img"], atol=1e-4)
    lines = (sharded.log_dir / "test_logs.txt").read_text()
    assert len(re.findall(r"\d MPJPE from lixel mesh: ", lines)) == 1 and "PA MPJPE from param mesh: " in lines


def test_loader_workers_give_the_batches_of_loading_in_the_process(synthetic_data_dir, model_dir, body_snapshot,
                                                                  tmp_path):
    """--num_thread 2: the tester's loader reads the samples and computes their targets (the ground-truth meshes the
    evaluation compares with) in forked workers, bit for bit as the in-process loader of --num_thread 0.  The network
    and the evaluation run in this process either way, so equal batches give equal metrics; a second full test run
    would only repeat the network."""
    from data.loader import make_loader

    cfg = _pw3d_cfg(synthetic_data_dir, model_dir, tmp_path).replace(num_thread=2, test_batch_size=3)
    tester = Tester(cfg, CPU, model_path=body_snapshot)
    assert tester.loader.num_workers == 2
    # in-process first: its crops start OpenCV's thread pool here, so the workers fork from a busy parent (where an
    # unguarded fork hangs them: data/loader.py); the timeout turns such a hang into a failure
    in_process = list(make_loader(tester.test_set, 3, tester.sampler, 0, CPU.device, train=False))
    tester.loader.timeout = 60
    with_workers = list(tester.loader)  # batches of 3: one from each worker
    assert len(with_workers) == len(in_process) == 2
    different = []
    for got, want in zip(with_workers, in_process):
        for got_part, want_part in zip(got, want):
            assert got_part.keys() == want_part.keys()
            different += [key for key, value in want_part.items() if not torch.equal(got_part[key], value)]
    assert different == []
    assert torch.cat([meta["sample_idx"] for *_, meta in with_workers]).tolist() == list(range(6))
    assert "fit_mesh_coord_cam" in in_process[0][1]  # the evaluation's ground truth is among the compared targets


@pytest.mark.slow
def test_the_original_commands_run_from_main(synthetic_data_dir, model_dir, tmp_path):
    """train.py --stage lixel, train.py --stage param --continue, test.py, from main/ as the README says."""
    common = ["--gpu", "0", "--trainset_3d", "FreiHAND", "--trainset_2d", "--testset", "FreiHAND",
              "--data_dir", str(synthetic_data_dir), "--human_model_dir", str(model_dir), "--output_dir",
              str(tmp_path), "--train_batch_size", "2", "--test_batch_size", "2", "--end_epoch", "1",
              "--random_init", "--num_thread", "0"]

    def run(script: str, *flags: str) -> str:
        done = subprocess.run([sys.executable, script, *flags, *common], cwd=ROOT / "main", capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    out = run("train.py", "--stage", "lixel")
    assert "Stage: lixel" in out and "Epoch 0/1 itr 2/3:" in out and "Write snapshot into" in out
    out = run("train.py", "--stage", "param", "--continue")
    assert f"Load checkpoint from {tmp_path / 'model_dump' / 'snapshot_0.pth.tar'}" in out
    assert "Epoch 1/6 itr 0/3: lr: 0.0001" in out and "Epoch 5/6 itr 2/3: lr: 0.0001" in out
    out = run("test.py", "--stage", "param", "--test_epoch", "5")
    assert f"Saved at {tmp_path / 'result' / 'pred.json'}" in out
    assert "FreiHAND scores on 4 samples" in out and "Mesh, F-score at 15 mm" in out
    pred = json.loads((tmp_path / "result" / "pred.json").read_text())
    assert np.asarray(pred[0]).shape == (4, 21, 3) and np.asarray(pred[1]).shape == (4, 778, 3)
    log = (tmp_path / "log" / "train_logs.txt").read_text()
    assert "\033[" not in log and log.count("Write snapshot into") == 6
    assert sorted(p.name for p in (tmp_path / "model_dump").iterdir()) == [f"snapshot_{e}.pth.tar" for e in range(6)]


def test_result_lines_are_printed_as_the_original(synthetic_data_dir, model_dir, body_snapshot, tmp_path, capsys):
    """The result lines go to stdout without a time stamp; the log file keeps a time-stamped copy."""
    cfg = _pw3d_cfg(synthetic_data_dir, model_dir, tmp_path)
    metrics = Tester(cfg, CPU, model_path=body_snapshot).run()
    out = capsys.readouterr().out.splitlines()
    want = [f"MPJPE from lixel mesh: {metrics['mpjpe_lixel']:.2f} mm",
            f"PA MPJPE from lixel mesh: {metrics['pa_mpjpe_lixel']:.2f} mm",
            f"MPJPE from param mesh: {metrics['mpjpe_param']:.2f} mm",
            f"PA MPJPE from param mesh: {metrics['pa_mpjpe_param']:.2f} mm"]
    assert all(line in out for line in want), out[-8:]
    log = (cfg.log_dir / "test_logs.txt").read_text().splitlines()
    assert any(re.fullmatch(r"\d\d-\d\d \d\d:\d\d:\d\d " + re.escape(want[0]), line) for line in log)


@pytest.mark.slow
def test_exact_runs_the_reference_and_the_fast_path_is_as_close_to_float64(synthetic_data_dir, model_dir, smpl,
                                                                           body_snapshot, tmp_path):
    """``--exact`` tests with the reference network bit for bit; the fast path's metrics are within float32 rounding
    of the float64 reference's, judged by the reference's own float32 distance from float64."""
    from main.reference import ReferenceI2LMeshNet
    from main.tester import evaluation_inputs

    exact_cfg = _pw3d_cfg(synthetic_data_dir, model_dir, tmp_path / "exact").replace(exact=True)
    exact = Tester(exact_cfg, CPU, model_path=body_snapshot)
    assert type(exact.model) is ReferenceI2LMeshNet
    exact_metrics = exact.run()
    fast_metrics = Tester(_pw3d_cfg(synthetic_data_dir, model_dir, tmp_path / "fast"), CPU,
                          model_path=body_snapshot).run()
    reference = ReferenceI2LMeshNet(smpl, stage="param")
    load_network(reference, load_checkpoint_file(body_snapshot)["network"])
    joints, results64 = [], []
    with torch.no_grad():
        for net, dtype in ((reference.eval(), torch.float32), (copy.deepcopy(reference).double(), torch.float64)):
            for inputs, targets, meta in exact.loader:
                out = net({"img": inputs["img"].to(dtype)}, {}, {}, "test")
                if dtype == torch.float32:
                    joints.append(out["joint_coord_img"])
                else:
                    samples = [{k: v[i].numpy() for k, v in evaluation_inputs(out, targets, meta).items()}
                               for i in range(len(meta["sample_idx"]))]
                    results64.append(exact.test_set.evaluate(samples, meta["sample_idx"].tolist()))
    saved = np.load(exact_cfg.result_dir / "predictions_PW3D_param_7.npz")
    assert np.array_equal(saved["joint_coord_img"], torch.cat(joints).numpy())  # bit for bit
    metrics64 = {k: float(np.mean([v for r in results64 for v in r[k]])) for k in results64[0]}
    for key, value64 in metrics64.items():
        exact_err, fast_err = abs(exact_metrics[key] - value64), abs(fast_metrics[key] - value64)
        assert fast_err <= 4 * exact_err + 1e-3, (key, fast_err, exact_err)
