"""Training driver: exact resume (epoch boundary, mid-epoch), DDP on gloo, mixed precision, bad input."""
from pathlib import Path

import pytest
import torch

from common.checkpoint import CheckpointError, load_checkpoint_file, mid_epoch_path, save_checkpoint, snapshot_path
from common.launch import DistContext, cuda_devices, launch
from common.utils.human_models import build_human_model
from main.config import make_config
from main.model import I2LMeshNet
from main.trainer import NonFiniteLossError, Trainer

CPU = DistContext(0, 1, 0, torch.device("cpu"))
HAND = dict(trainset_3d=["FreiHAND"], trainset_2d=[], testset="FreiHAND")  # 6 training samples: 3 batches of 2


def _cfg(data_dir: Path, model_dir: Path, out: Path, **changes):
    settings = dict(HAND, data_dir=data_dir, human_model_dir=model_dir, output_dir=out, train_batch_size=2,
                    test_batch_size=2, random_init=True, num_thread=0, end_epoch=1)
    settings.update(changes)
    return make_config(**settings)


def _train(cfg) -> None:
    torch.manual_seed(0)  # the random initialisation of a fresh run
    Trainer(cfg, CPU).run()


def _assert_same_snapshot(a: Path, b: Path) -> None:
    first, second = load_checkpoint_file(a), load_checkpoint_file(b)
    assert first["epoch"] == second["epoch"]
    assert first["network"].keys() == second["network"].keys()
    for key, value in first["network"].items():
        torch.testing.assert_close(second["network"][key], value, rtol=1e-5, atol=1e-6, msg=key)
    state_a, state_b = first["optimizer"]["state"], second["optimizer"]["state"]
    assert state_a.keys() == state_b.keys()
    for index in state_a:
        for name in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(state_b[index][name], state_a[index][name], rtol=1e-5, atol=1e-9)


@pytest.mark.slow
def test_lixel_run_stopped_after_an_epoch_and_continued_equals_the_uninterrupted_run(
        synthetic_data_dir, model_dir, tmp_path):
    whole = _cfg(synthetic_data_dir, model_dir, tmp_path / "whole", end_epoch=2)
    _train(whole)
    first = _cfg(synthetic_data_dir, model_dir, tmp_path / "split", end_epoch=1)
    _train(first)
    assert not snapshot_path(first.model_dir, 1).exists()
    _train(first.replace(end_epoch=2, continue_train=True))  # restores Adam, the epoch and the RNG states
    _assert_same_snapshot(snapshot_path(whole.model_dir, 1), snapshot_path(first.model_dir, 1))
    log = (first.log_dir / "train_logs.txt").read_text()
    assert f"Load checkpoint from {snapshot_path(first.model_dir, 0)}" in log
    assert log.count("Write snapshot into") == 2


def _lixel_snapshot(cfg, epoch: int) -> Path:
    """A lixel-stage snapshot at ``epoch`` (random weights), the start of a param stage with --continue."""
    from common.utils.human_models import build_human_model

    torch.manual_seed(1)
    net = I2LMeshNet(build_human_model(True, cfg.human_model_dir), stage="lixel")
    return save_checkpoint(snapshot_path(cfg.model_dir, epoch), net, None, epoch, extra={"stage": "lixel"})


@pytest.mark.slow
def test_param_run_crashed_mid_epoch_resumes_from_the_rolling_file(synthetic_data_dir, model_dir, tmp_path,
                                                                   monkeypatch):
    # end_epoch 1 -> the param stage runs epochs 1 .. 5; a lixel snapshot at epoch 4 leaves the last one, epoch 5
    whole = _cfg(synthetic_data_dir, model_dir, tmp_path / "whole", stage="param", continue_train=True)
    crashed = _cfg(synthetic_data_dir, model_dir, tmp_path / "crashed", stage="param", continue_train=True,
                   save_every_min=1e-9)  # the rolling file after every iteration
    for cfg in (whole, crashed):
        _lixel_snapshot(cfg, 4)
    _train(whole)

    calls = {"n": 0}
    real_step = Trainer.train_step

    def crash_on_third_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated crash")
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "train_step", crash_on_third_step)
    with pytest.raises(KeyboardInterrupt):
        _train(crashed)
    monkeypatch.setattr(Trainer, "train_step", real_step)
    rolling = load_checkpoint_file(mid_epoch_path(crashed.model_dir))
    assert (rolling["epoch"], rolling["itr"], rolling["stage"]) == (5, 2, "param")
    assert not snapshot_path(crashed.model_dir, 5).exists()

    _train(crashed)  # --continue: the rolling file is newer than snapshot_4
    _assert_same_snapshot(snapshot_path(whole.model_dir, 5), snapshot_path(crashed.model_dir, 5))
    assert not mid_epoch_path(crashed.model_dir).exists()  # superseded by the finished epoch
    log = (crashed.log_dir / "train_logs.txt").read_text()
    assert f"Load checkpoint from {mid_epoch_path(crashed.model_dir)}" in log
    assert "Epoch 5/6 itr 2/3:" in log and log.count("Epoch 5/6 itr 2/3:") == 1


def _train_and_dump(ctx: DistContext, cfg, dump_dir: str) -> None:
    """One DDP process: train, then write this rank's weights for the test to compare."""
    torch.manual_seed(100 + ctx.rank)  # different initial weights per rank: DDP must broadcast rank 0's
    trainer = Trainer(cfg, ctx)
    trainer.run()
    torch.save(trainer.model.state_dict(), Path(dump_dir) / f"rank{ctx.rank}.pt")


@pytest.mark.slow
def test_two_process_gloo_training_keeps_ranks_identical_and_writes_once(synthetic_data_dir, model_dir, tmp_path):
    cfg = _cfg(synthetic_data_dir, model_dir, tmp_path / "ddp")
    launch(_train_and_dump, (), cfg, str(tmp_path), cpu_processes=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    batch_norm_stats = ("running_mean", "running_var", "num_batches_tracked")
    for key, value in ranks[0].items():
        if not key.endswith(batch_norm_stats):  # statistics: rank 0's are broadcast before each forward only
            torch.testing.assert_close(ranks[1][key], value, rtol=0, atol=0, msg=key)
    assert sorted(p.name for p in cfg.model_dir.iterdir()) == ["snapshot_0.pth.tar"]
    snapshot = load_checkpoint_file(snapshot_path(cfg.model_dir, 0))
    for key, value in snapshot["network"].items():
        if not key.startswith("module.human_model_layer."):
            torch.testing.assert_close(value, ranks[0][key[len("module."):]], rtol=0, atol=0, msg=key)
    log = (cfg.log_dir / "train_logs.txt").read_text()
    # 6 samples over 2 processes: 3 each, one full batch of 2 per process (the incomplete one is dropped)
    assert log.count("Epoch 0/1 itr 0/1:") == 1 and log.count("Write snapshot into") == 1


@pytest.mark.parametrize("amp", ["bf16", pytest.param("fp16", marks=pytest.mark.slow)])  # fp16 is emulated on CPUs
def test_mixed_precision_steps_run_and_reduce_the_loss(synthetic_data_dir, model_dir, tmp_path, amp):
    cfg = _cfg(synthetic_data_dir, model_dir, tmp_path, stage="param", amp=amp, lr=1e-3)
    torch.manual_seed(0)
    trainer = Trainer(cfg, CPU)
    trainer.train_set.set_epoch(0)
    trainer.sampler.set_epoch(0)
    batch = next(iter(trainer.loader))
    totals = [sum(trainer.train_step(*batch, epoch=0, itr=i).values()) for i in range(6)]
    assert all(torch.isfinite(torch.tensor(totals)))
    assert totals[-1] < 0.8 * totals[0], totals
    assert trainer.scaler.is_enabled() == (amp == "fp16")


def test_non_finite_loss_stops_before_the_update_and_keeps_the_snapshots(synthetic_data_dir, model_dir, tmp_path):
    cfg = _cfg(synthetic_data_dir, model_dir, tmp_path, stage="param", continue_train=True)
    previous = _lixel_snapshot(cfg, 4)
    before = previous.read_bytes()
    torch.manual_seed(0)
    trainer = Trainer(cfg, CPU)
    weights = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    real_forward = trainer.net.forward

    def poisoned(*args, **kwargs):
        loss = real_forward(*args, **kwargs)
        loss["shape_param"] = loss["shape_param"] * float("nan")
        return loss

    trainer.net.forward = poisoned
    with pytest.raises(NonFiniteLossError, match=r"epoch 5 itr 0: non-finite loss in \['shape_param'\]") as err:
        trainer.run()
    assert "snapshots" in str(err.value) and "untouched" in str(err.value)
    assert previous.read_bytes() == before and sorted(p.name for p in cfg.model_dir.iterdir()) == [previous.name]
    for key, value in trainer.model.named_parameters():  # no update (the forward did move BatchNorm statistics)
        torch.testing.assert_close(value, weights[key], rtol=0, atol=0, msg=key)


def test_continue_with_an_empty_model_dump_says_so(synthetic_data_dir, model_dir, tmp_path):
    cfg = _cfg(synthetic_data_dir, model_dir, tmp_path, continue_train=True)
    with pytest.raises(CheckpointError, match=r"--continue: no snapshot_<epoch>\.pth\.tar in .*model_dump; train "
                                              r"the lixel stage first"):
        Trainer(cfg, CPU)


def test_training_set_smaller_than_a_batch_is_refused(synthetic_data_dir, model_dir, tmp_path):
    cfg = _cfg(synthetic_data_dir, model_dir, tmp_path, train_batch_size=7)
    with pytest.raises(ValueError, match=r"the training set has 6 samples, fewer than one batch per process "
                                         r"\(--train_batch_size 7"):
        Trainer(cfg, CPU)


def test_gpu_ids_that_do_not_exist_name_the_devices_found(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"Fake GPU {i}")
    assert cuda_devices([1]) == [torch.device("cuda", 1)]
    with pytest.raises(ValueError, match=r"--gpu 0,3: GPU id\(s\) \[3\] do not exist; CUDA devices found: "
                                         r"0: Fake GPU 0, 1: Fake GPU 1"):
        cuda_devices([0, 3])


def test_recompute_flag_reaches_the_model_and_trains(synthetic_data_dir, model_dir, tmp_path):
    """--recompute: the trainer's network recomputes activations; its first step's losses equal a normal step's."""
    losses = {}
    for recompute in (False, True):
        cfg = _cfg(synthetic_data_dir, model_dir, tmp_path / str(recompute), stage="lixel", recompute=recompute)
        torch.manual_seed(0)
        trainer = Trainer(cfg, CPU)
        assert trainer.model.recompute is recompute
        trainer.train_set.set_epoch(0)
        trainer.sampler.set_epoch(0)
        batch = next(iter(trainer.loader))
        losses[recompute] = trainer.train_step(*batch, epoch=0, itr=0)
    assert losses[True].keys() == losses[False].keys()
    for key, value in losses[False].items():
        assert abs(float(losses[True][key]) - float(value)) <= 1e-6 * max(1.0, abs(float(value))), key


def _adam_lr(optimizer, before: list[torch.Tensor]) -> tuple[float, float]:
    """The learning rate that moved the parameters from ``before`` in the step just taken, recovered from Adam's
    state (least squares over every element), and the bound on its error from rounding the new float32 weights."""
    dot = norm = err = 0.0
    pairs = [(group, p) for group in optimizer.param_groups for p in group["params"]]
    for (group, p), old in zip(pairs, before):
        if p in optimizer.state:
            state = optimizer.state[p]
            beta1, beta2 = group["betas"]
            t = float(state["step"])
            m, v = state["exp_avg"].double() / (1 - beta1 ** t), state["exp_avg_sq"].double() / (1 - beta2 ** t)
            u = m / (v.sqrt() + group["eps"])  # the step per unit learning rate
            step = p.detach().double() - old.double()
            dot, norm = dot - float((step * u).sum()), norm + float((u * u).sum())
            # the new weight is rounded to float32 (half an ulp) after a few float32 operations on the step
            err += float((u.abs() * (2.0 ** -24 * p.detach().double().abs() + 2.0 ** -21 * step.abs())).sum())
    return dot / norm, err / norm


def test_learning_rate_decays_inside_a_run_and_the_steps_follow_it(synthetic_data_dir, model_dir, tmp_path):
    """A param-stage run across a decay epoch (--lr_dec_epoch 1 --end_epoch 2: epochs 5 and 6, decay at 6): the
    optimizer's learning rate, the logged one and the size of the Adam steps drop tenfold at epoch 6."""
    cfg = _cfg(synthetic_data_dir, model_dir, tmp_path, stage="param", continue_train=True, lr_dec_epoch=[1],
               end_epoch=2)
    assert (cfg.lr_dec_epoch, cfg.end_epoch, cfg.lr, cfg.lr_dec_factor) == ((6,), 7, 1e-4, 10)
    _lixel_snapshot(cfg, 4)
    torch.manual_seed(0)
    trainer = Trainer(cfg, CPU)
    steps = []

    def before_step(optimizer, args, kwargs):
        steps.append([p.detach().clone() for group in optimizer.param_groups for p in group["params"]])

    def after_step(optimizer, args, kwargs):
        steps[-1] = ([group["lr"] for group in optimizer.param_groups], *_adam_lr(optimizer, steps[-1]))

    trainer.optimizer.register_step_pre_hook(before_step)
    trainer.optimizer.register_step_post_hook(after_step)
    trainer.run()
    assert [lrs for lrs, _, _ in steps] == [[1e-4]] * 3 + [[1e-5]] * 3
    for lrs, moved_by, rounding in steps:
        assert abs(moved_by - lrs[0]) <= rounding, (moved_by, lrs[0], rounding)
    log = (cfg.log_dir / "train_logs.txt").read_text()
    assert "Epoch 5/7 itr 2/3: lr: 0.0001 " in log and "Epoch 6/7 itr 0/3: lr: 1e-05 " in log
    assert "Epoch 6/7 itr 2/3: lr: 1e-05 " in log


def test_loader_workers_feed_the_steps_what_loading_in_the_process_does(synthetic_data_dir, model_dir, tmp_path,
                                                                        monkeypatch):
    """Two epochs with 2 persistent loader workers (--num_thread 2) feed the training steps bit for bit the batches of
    --num_thread 0: the workers, started in epoch 0, draw epoch 1's augmentation and compute the same targets.
    The steps themselves are left out (the network runs in this process either way)."""
    fed = []

    def record(self, inputs, targets, meta_info, epoch, itr):
        fed.append((epoch, itr, inputs, targets, meta_info))
        return {"total": 0.0}

    monkeypatch.setattr(Trainer, "train_step", record)
    batches = {}
    for workers in (0, 2):
        # batches of 3: two per epoch, one from each worker
        trainer = Trainer(_cfg(synthetic_data_dir, model_dir, tmp_path / str(workers), num_thread=workers,
                               train_batch_size=3), CPU)
        assert trainer.loader.num_workers == workers
        for epoch in (0, 1):
            trainer.train_epoch(epoch)
        batches[workers], fed[:] = list(fed), []
    for workers in (0, 2):
        assert [(epoch, itr) for epoch, itr, *_ in batches[workers]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    different = []
    for (epoch, itr, *with_workers), (_, _, *in_process) in zip(batches[2], batches[0]):
        for got, want in zip(with_workers, in_process):
            assert got.keys() == want.keys()
            different += [(epoch, itr, key) for key, value in want.items() if not torch.equal(got[key], value)]
    assert different == []


def _dead_pid() -> int:
    """The pid of a process that has exited (its writer is gone)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_a_run_removes_the_temporaries_of_dead_writers_in_its_model_dump(synthetic_data_dir, model_dir, tmp_path):
    import socket

    from common.utils.io import temporary_name

    cfg = _cfg(synthetic_data_dir, model_dir, tmp_path)
    cfg.model_dir.mkdir(parents=True)
    dead = cfg.model_dir / temporary_name("snapshot_3.pth.tar", socket.gethostname(), _dead_pid(), "0123abcd")
    other_host = cfg.model_dir / temporary_name("snapshot_3.pth.tar", "another-host", _dead_pid(), "0123abcd")
    for path in (dead, other_host):
        path.write_bytes(b"partial")
    Trainer(cfg, CPU)
    assert not dead.exists() and other_host.exists()  # the folder may be shared with another machine
    assert f"Removed {dead}: the temporary of a write whose process is gone" in (cfg.log_dir / "train_logs.txt").read_text()


def test_continue_with_another_seed_is_refused_mid_epoch_and_warned_at_an_epoch_boundary(
        synthetic_data_dir, model_dir, tmp_path):
    cfg = _cfg(synthetic_data_dir, model_dir, tmp_path, stage="param", continue_train=True, seed=5)
    torch.manual_seed(1)
    net = I2LMeshNet(build_human_model(True, model_dir), stage="param")
    written = {"stage": "param", "sampler": {"seed": 0, "epoch": 4}}
    save_checkpoint(snapshot_path(cfg.model_dir, 4), net, None, 4, extra=written)
    Trainer(cfg, CPU)  # an epoch boundary: a warning, the run goes on
    assert ("--seed 5 differs from the --seed 0 of" in (cfg.log_dir / "train_logs.txt").read_text())
    Trainer(cfg.replace(seed=0), CPU)  # the same seed: nothing to say
    assert (cfg.log_dir / "train_logs.txt").read_text().count("differs from the --seed") == 1
    save_checkpoint(mid_epoch_path(cfg.model_dir), net, None, 5, extra={**written, "itr": 1})
    with pytest.raises(CheckpointError, match=r"was written by a run with --seed 0, this run has --seed 5; .* "
                                              r"Continue with --seed 0"):
        Trainer(cfg, CPU)
