"""tools/benchmark.py: both sections run and report positive throughputs."""
import json

from tools.benchmark import bench_loader, main


def test_loader_benchmark_on_synthetic_data(synthetic_data_dir, model_dir, capsys):
    results = bench_loader(synthetic_data_dir, model_dir, ["MuCo", "FreiHAND"], num_samples=3, seed=0)
    assert set(results) == {"MuCo", "FreiHAND"}
    assert all(r["samples"] == 3 and r["samples_per_s"] > 0 and r["dataset_len"] > 0 for r in results.values())
    assert "samples/s per worker" in capsys.readouterr().out


def test_model_benchmark_cli_writes_json(model_dir, tmp_path):
    out = tmp_path / "bench.json"
    assert main(["model", "--human_model_dir", str(model_dir), "--variants", "hand", "--batch_size", "2",
                 "--steps", "1", "--warmup", "0", "--device", "cpu", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["model"]
    assert set(results) == {f"hand/{s}/{n}" for s in ("lixel", "param") for n in ("train_step", "test_forward")}
    assert all(r["seconds"] > 0 for r in results.values())
