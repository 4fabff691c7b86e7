"""tools/benchmark.py: both sections run and report positive throughputs."""
import json

import pytest

from common.allocator import kernel_thp_mode
from tools.benchmark import bench_loader, main


def test_loader_benchmark_on_synthetic_data(synthetic_data_dir, model_dir, capsys):
    results = bench_loader(synthetic_data_dir, model_dir, ["MuCo", "FreiHAND"], num_samples=3, seed=0)
    assert set(results) == {"MuCo", "FreiHAND"}
    assert all(r["samples"] == 3 and r["samples_per_s"] > 0 and r["dataset_len"] > 0 for r in results.values())
    assert "samples/s per worker" in capsys.readouterr().out


@pytest.mark.slow
def test_model_benchmark_cli_writes_json(model_dir, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["model", "--human_model_dir", str(model_dir), "--variants", "hand", "--batch_size", "2",
                 "--configs", "fast_bf16", "--steps", "1", "--warmup", "0", "--device", "cpu", "--threads", "1",
                 "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert list(results) == ["hand"] and list(results["hand"]) == ["plain_fp32", "fast_bf16"]  # plain always first
    for entry in results["hand"].values():
        assert all(entry[k] > 0 for k in ("test_forward_s", "lixel_train_s", "param_train_s", "peak_rss_gib"))
        assert entry["batch_size"] == 2 and entry["threads"] == 1
    plain, fast = results["hand"]["plain_fp32"], results["hand"]["fast_bf16"]
    assert plain["max_abs_diff_mesh_coord_img"] == 0  # the reference against itself
    # bf16 moves the joints of these noise images by at most a few heat-map bins (3.2 measured); a bf16 path that
    # computes something else (e.g. loses the folded BatchNorm biases) moves them by tens of bins
    assert 0 < fast["max_abs_diff_joint_coord_img"] < 8
    printed = capsys.readouterr().out
    assert "hand fast_bf16: test_forward" in printed and "x, CPU" in printed
    # the fast path runs as the drivers do (huge pages where the kernel gives them), the reference as the original
    assert plain["huge_pages"] is False
    assert fast["huge_pages"] is (kernel_thp_mode() in ("always", "madvise"))
