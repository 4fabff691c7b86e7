"""tools/worker_memory.py (``benchmark.py workers``): a Human36M-format annotation of N records and worker memory."""
from tools.worker_memory import run


def test_worker_memory_on_a_small_annotation(model_dir, capsys) -> None:
    results = run(records=400, num_workers=1, contexts=["fork"], seed=0, model_dir=model_dir)
    assert results["records"] == 400 and results["main"]["len"] == 400  # every record kept by the reader
    assert 0 < results["main"]["datalist_nbytes"] / 400 < 1100  # bytes per packed record
    (row,) = results["fork/Human36M"]
    assert row["worker"] == 0 and all(row["end"][k] > 0 for k in ("rss", "pss", "uss"))
    assert "fork    Human36M w0" in capsys.readouterr().out
