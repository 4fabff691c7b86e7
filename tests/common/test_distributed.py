"""DDP-safe stages: requires_grad = the parameters a stage updates, the original's optimizer lists, and a 2-process
gloo run of both stages (identical weights on both ranks, only BatchNorm statistics broadcast)."""
import datetime
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from common.distributed import constant_buffer_names, wrap_ddp
from main.model import I2LMeshNet
from tools.stand_in_weights import random_batch

BN_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked")


@pytest.fixture
def hand_net(hand_net_factory):
    """A private copy of the session's seed-0 hand network, lixel stage (tests/conftest.py)."""
    return hand_net_factory()


def test_requires_grad_is_exactly_what_each_stage_updates(hand_net):
    names = dict(hand_net.named_parameters())
    try:
        for stage, optimizer_size, updated_size in (("lixel", 360, 357), ("param", 12, 12)):
            hand_net.stage = stage
            requiring = {n for n, p in names.items() if p.requires_grad}
            assert len(requiring) == updated_size and requiring == hand_net.updated_parameter_names()
            # the optimizer list stays the original's (Adam state dicts interchangeable with the original)
            optimizer_params = hand_net.trainable_parameters()
            assert len(optimizer_params) == optimizer_size
            expected = [p for m in hand_net.trainable_module_names() for p in getattr(hand_net, m).parameters()]
            assert all(a is b for a, b in zip(optimizer_params, expected))
            adam = torch.optim.Adam(optimizer_params, lr=1e-4)
            assert len(adam.state_dict()["param_groups"][0]["params"]) == optimizer_size
        hand_net.stage = "lixel"
        assert hand_net.trainable_parameters()[-1] is hand_net.mesh_net.conv_z_2[0].bias
        # a stage switch drops the gradients left on the parameters it freezes (stale ones would break DDP's check)
        hand_net.pose_net.conv_x[0].weight.grad = torch.ones_like(hand_net.pose_net.conv_x[0].weight)
        hand_net.stage = "param"
        assert hand_net.pose_net.conv_x[0].weight.grad is None
        hand_net.stage = "lixel"
        frozen = {n for n, p in names.items() if not p.requires_grad}
        assert frozen == {"mesh_backbone.conv1.weight", "mesh_backbone.bn1.weight", "mesh_backbone.bn1.bias"} | {
            n for n in names if n.startswith("param_regressor.")}
    finally:
        hand_net.stage = "lixel"


def test_stage_is_validated(hand_net):
    with pytest.raises(ValueError, match="stage 'mesh'"):
        hand_net.stage = "mesh"
    assert hand_net.stage == "lixel"


def test_constant_buffers_are_everything_but_batch_norm_statistics(hand_net):
    constant = constant_buffer_names(hand_net)
    all_buffers = [n for n, _ in hand_net.named_buffers()]
    assert {"joint_regressor", "normal_loss.face", "edge_loss.face", "human_model_layer.faces_tensor",
            "human_model_layer.shapedirs", "human_model_layer.v_template"} <= set(constant)
    assert not any(n.endswith(BN_SUFFIXES) for n in constant)
    assert all(n.endswith(BN_SUFFIXES) for n in set(all_buffers) - set(constant))
    assert "pose_backbone.bn1.running_mean" in all_buffers and "param_regressor.fc.1.running_var" in all_buffers


def test_wrap_ddp_refuses_a_model_on_another_device():
    with pytest.raises(ValueError, match=r"wrap_ddp: .* not on meta .*model.to\('meta'\)"):
        wrap_ddp(torch.nn.Linear(2, 2), torch.device("meta"))


# ----- two processes --------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mismatches_with_rank0(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names whose value differs from rank 0's (every rank broadcasts and compares, rank 0 trivially)."""
    bad = []
    for name, t in tensors.items():
        ref = t.detach().clone()
        dist.broadcast(ref, src=0)
        if not torch.equal(ref, t):
            bad.append(name)
    return bad


def _train(ddp, net, human_model, rank: int, steps: int, before_last_step=None) -> bool:
    """``steps`` SGD steps on per-rank random batches of 2; True when in every step exactly the parameters that
    require grad got one (what DDP without find_unused_parameters needs)."""
    optimizer = torch.optim.SGD(net.trainable_parameters(), lr=0.05)  # stateless: keeps the test light
    net.train()
    grads_match = True
    for step in range(steps):
        if step == steps - 1 and before_last_step is not None:
            before_last_step()
        inputs, targets, meta = random_batch(human_model, 2, seed=100 * step + rank)  # different data per rank
        loss = ddp(inputs, targets, meta, "train")
        optimizer.zero_grad(set_to_none=True)
        sum(t.mean() for t in loss.values()).backward()
        grads_match &= all((p.grad is not None) == p.requires_grad for p in net.parameters())
        optimizer.step()
    return grads_match


def _ddp_worker(rank: int, world: int, port: int, model_dir: str, out_dir: str) -> None:
    from common.utils.human_models import MANO

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(minutes=5))  # a desynchronised collective fails, not hangs
    try:
        mano = MANO(model_dir)
        torch.manual_seed(rank)  # different initial weights: DDP's construction broadcast must make them equal
        net = I2LMeshNet(mano, stage="lixel")
        report: dict = {}

        ddp = wrap_ddp(net, "cpu")
        report["ignored"] = sorted(ddp.parameters_to_ignore)
        report["buffers"] = [n for n, _ in net.named_buffers()]
        report["regressor_params"] = [f"param_regressor.{n}" for n, _ in net.param_regressor.named_parameters()]
        regressor_before = {n: p.detach().clone() for n, p in net.param_regressor.named_parameters()}
        stem_before = net.mesh_backbone.conv1.weight.detach().clone()
        head_before = net.pose_net.conv_x[0].weight.detach().clone()
        report["lixel_grads_match"] = _train(ddp, net, mano, rank, steps=2)
        report["lixel_mismatch"] = _mismatches_with_rank0(dict(net.named_parameters()))
        report["lixel_regressor_same"] = all(torch.equal(p, regressor_before[n])
                                             for n, p in net.param_regressor.named_parameters())
        report["lixel_stem_same"] = torch.equal(net.mesh_backbone.conv1.weight, stem_before)
        report["lixel_head_changed"] = not torch.equal(net.pose_net.conv_x[0].weight, head_before)

        del ddp
        net.stage = "param"
        ddp = wrap_ddp(net, "cpu")
        before = {k: v.clone() for k, v in net.state_dict().items()}
        stem_bn, face = net.mesh_backbone.bn1.running_mean, net.normal_loss.face

        def perturb() -> None:
            """Rank-dependent values in a BatchNorm statistic that no forward updates (the stem that never runs)
            and in a constant buffer the param stage does not use; DDP's next forward broadcasts buffers."""
            stem_bn.fill_(float(rank + 1))
            face.add_(rank)

        face_perturbed = face + rank
        report["param_grads_match"] = _train(ddp, net, mano, rank, steps=2, before_last_step=perturb)
        after = net.state_dict()
        report["param_changed"] = sorted(k for k in after if not torch.equal(after[k], before[k]))
        del before
        report["param_mismatch"] = _mismatches_with_rank0(dict(net.named_parameters()))
        report["bn_after_sync"] = stem_bn.unique().tolist()
        report["face_kept"] = torch.equal(face, face_perturbed)
        torch.save(report, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_gloo_trains_both_stages_in_step(model_dir, tmp_path):
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(model_dir), str(tmp_path)), nprocs=2, join=True)
    reports = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for rank, report in enumerate(reports):
        # the constant buffers (model-file copies) are excluded from DDP's broadcast; BN statistics are not
        assert set(report["ignored"]) == {n for n in report["buffers"] if not n.endswith(BN_SUFFIXES)}
        assert {"joint_regressor", "human_model_layer.faces_tensor", "normal_loss.face"} <= set(report["ignored"])
        # lixel stage: identical weights on both ranks, the regressor and the second trunk's stem untouched
        assert report["lixel_grads_match"] and report["param_grads_match"]
        assert report["lixel_mismatch"] == [] and report["lixel_head_changed"]
        assert report["lixel_regressor_same"] and report["lixel_stem_same"]
        # param stage: only param_regressor and the BatchNorm running statistics change; the frozen lixel part stays in
        # train mode, as the original's (docs/quirks.md#q-batchnorm-trains-in-param-stage)
        changed = report["param_changed"]
        assert all(k.startswith("param_regressor.") or k.endswith(BN_SUFFIXES) for k in changed), changed
        assert len(report["regressor_params"]) == 12 and set(report["regressor_params"]) <= set(changed)
        assert any(k.startswith("pose_backbone.") and k.endswith(".running_mean") for k in changed)
        assert report["param_mismatch"] == []
        # rank 0's BatchNorm statistics won; the perturbed constant buffer kept each rank's own value
        assert report["bn_after_sync"] == [1.0] and report["face_kept"]


# ----- two processes against one ------------------------------------------------------------------------------------

def _first_step_in_float64(ctx, cfg, out_dir: str) -> None:
    """One trainer process with its network in float64 (converted right before the DDP wrap): the first step of
    epoch 0.  Each rank writes its batch and logged losses; rank 0 also the starting weights and the all-reduced
    gradients."""
    import main.trainer as trainer_module

    torch.set_num_threads(1)  # one core per process
    wrap = trainer_module.wrap_ddp
    # float64: the step's own rounding then lies far below that of the float32 reference the test measures
    trainer_module.wrap_ddp = lambda model, device: wrap(model.double(), device)
    torch.manual_seed(100 + ctx.rank)  # different initial weights per rank: DDP must broadcast rank 0's
    trainer = trainer_module.Trainer(cfg, ctx)
    trainer.train_set.set_epoch(0)
    trainer.sampler.set_epoch(0)
    batch = next(iter(trainer.loader))
    if ctx.is_main:
        torch.save(trainer.model.state_dict(), Path(out_dir) / "start.pt")
        trainer.writer.close()
    losses = trainer.train_step(*_widened(batch), epoch=0, itr=0)
    dump = {"batch": batch, "losses": losses}
    if ctx.is_main:
        dump["grads"] = {n: p.grad for n, p in trainer.model.named_parameters() if p.grad is not None}
    torch.save(dump, Path(out_dir) / f"rank{ctx.rank}.pt")


def _widened(batch):
    """``batch`` with every floating tensor in float64."""
    if isinstance(batch, torch.Tensor):
        return batch.double() if batch.is_floating_point() else batch
    if isinstance(batch, dict):
        return {k: _widened(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_widened(v) for v in batch)
    return batch


def _mean_of_halves(net, halves) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """The gradients and losses of the trainer's step, one half-batch at a time (each forward in train mode, so each
    half gets its own BatchNorm statistics), averaged over the halves."""
    grads: dict[str, torch.Tensor] = {}
    losses: dict[str, float] = {}
    for inputs, targets, meta in halves:
        net.zero_grad(set_to_none=True)
        loss = {k: v.mean() for k, v in net(inputs, targets, meta, "train").items()}
        sum(loss.values()).backward()
        for name, p in net.named_parameters():
            if p.grad is not None:
                grads[name] = grads.get(name, 0) + p.grad / len(halves)
        for key, value in loss.items():
            losses[key] = losses.get(key, 0.0) + float(value.detach()) / len(halves)
    net.zero_grad(set_to_none=True)
    return grads, losses


# float64 rounds 2**29 times finer than float32; the factor 2**8 leaves room for the other kernels and summation
# orders of the 2-process run (measured: within 3x of the plain ratio; a real difference, e.g. a gradient summed
# instead of averaged, is O(1)).  The floor of 2**-40 of the norm covers tensors that float32 computes exactly.
FLOAT64_OVER_FLOAT32 = 2.0 ** -29 * 2.0 ** 8
FLOOR = 2.0 ** -40


@pytest.mark.slow
def test_two_process_training_step_equals_the_mean_of_the_half_batch_steps(synthetic_data_dir, model_dir, mano,
                                                                          tmp_path):
    """A 2-process gloo step of the trainer (hand lixel stage, 2 samples per process) equals its single-process
    computation: the mean of the two half-batches' gradients, each half with its own BatchNorm statistics (one GPU
    each, as the original's DataParallel).  The step runs in float64 and is compared with a float64 reference; the
    tolerance is the float32 reference's own distance from it (how much this computation amplifies rounding: BatchNorm
    over 2 samples is ill-conditioned) scaled down to float64."""
    import copy

    from common.launch import launch
    from main.config import make_config
    from main.networks import build_model_from_config

    cfg = make_config(trainset_3d=["FreiHAND"], trainset_2d=[], testset="FreiHAND", data_dir=synthetic_data_dir,
                      human_model_dir=model_dir, output_dir=tmp_path / "out", train_batch_size=2, random_init=True,
                      num_thread=0, end_epoch=1)
    launch(_first_step_in_float64, (), cfg, str(tmp_path), cpu_processes=2)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    halves = [rank0["batch"], rank1["batch"]]
    assert not torch.equal(halves[0][0]["img"], halves[1][0]["img"])  # each process had its own half

    net = build_model_from_config(cfg, mano)
    net.load_state_dict(torch.load(tmp_path / "start.pt", weights_only=True))  # float32 weights, exact in float64
    net.train()
    net64 = copy.deepcopy(net).double()
    grads32, losses32 = _mean_of_halves(net, halves)
    del net
    grads64, losses64 = _mean_of_halves(net64, [_widened(h) for h in halves])
    del net64
    ddp = rank0["grads"]
    assert ddp.keys() == grads64.keys() and len(ddp) == 357  # every parameter of the stage
    too_far = []
    for name, want in grads64.items():
        got = float((ddp[name] - want).norm())
        rounding = float((grads32[name].double() - want).norm()) * FLOAT64_OVER_FLOAT32
        if got > rounding + FLOOR * float(want.norm()):
            too_far.append((name, got, rounding))
    assert too_far == []
    assert losses64.keys() == rank0["losses"].keys() == rank1["losses"].keys()
    for key, want in losses64.items():
        rounding = abs(losses32[key] - want) * FLOAT64_OVER_FLOAT32 + FLOOR * abs(want)
        assert abs(rank0["losses"][key] - want) <= rounding, key
        assert rank1["losses"][key] == rank0["losses"][key]  # the logged losses are the global mean on every rank
