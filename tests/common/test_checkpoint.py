"""The checkpoint contract: official format out, official files in (keys normalised, strict), atomic writes."""
import copy
import os
import random
import signal
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from common.checkpoint import (
    CheckpointError,
    capture_rng_state,
    checkpoint_payload,
    find_latest_snapshot,
    inspect_checkpoint,
    load_checkpoint_file,
    load_network,
    mid_epoch_path,
    network_state_dict,
    restore_rng_state,
    save_checkpoint,
    snapshot_path,
    unwrap,
)
from main.model import I2LMeshNet

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hand_pair(hand_net_readonly) -> tuple[I2LMeshNet, I2LMeshNet]:
    """(source, target): the session's hand network (only read) and a private copy that differs from it in every
    state entry, so that a load which does nothing, or loads only some entries, leaves the target visibly different."""
    return hand_net_readonly, _shifted_copy(hand_net_readonly)


def _shifted_copy(net: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of ``net`` with one added to every state entry (weights, BatchNorm statistics and counters), made
    in one pass: the shifted tensors stand in for the originals in the deep copy."""
    with torch.no_grad():
        memo = {id(t): (torch.nn.Parameter(t + 1, requires_grad=t.requires_grad)
                        if isinstance(t, torch.nn.Parameter) else t + 1)
                for t in net.state_dict(keep_vars=True).values()}
    shifted = copy.deepcopy(net, memo)
    assert not any(_same_entries(shifted, net))
    return shifted


def _writes(net: torch.nn.Module) -> list[int]:
    """The in-place version counter of every parameter and buffer: it grows with each write (a load copies)."""
    return [t._version for t in (*net.parameters(), *net.buffers())]


def _same_entries(a: torch.nn.Module, b: torch.nn.Module) -> list[bool]:
    """Per state entry (in order; the key lists must match): whether ``a`` and ``b`` hold equal tensors."""
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    return [torch.equal(sa[k], sb[k]) for k in sa]


def _official_like_state(net, mano) -> "OrderedDict[str, torch.Tensor]":
    """What the original saves through DataParallel: 'module.' keys plus the vendored MANO layer's buffers."""
    state = OrderedDict(("module." + k, v.clone()) for k, v in net.state_dict().items())
    for name, buf in mano.checkpoint_buffers().items():
        state["module.human_model_layer." + name] = buf.clone()
    return state


def test_saved_snapshot_has_the_official_format_and_round_trips(hand_net, hand_net_readonly, tmp_path):
    src, dst = hand_net, _shifted_copy(hand_net_readonly)  # a source of its own: the test trains it
    src.stage = "param"  # the regressor requires grad in the param stage only
    try:
        opt = torch.optim.Adam(src.trainable_parameters(), lr=1e-4)
        src.param_regressor(torch.rand(2, 21, 3))[0].sum().backward()
        opt.step()
    finally:
        src.stage = "lixel"
    path = save_checkpoint(snapshot_path(tmp_path, 4), src, opt, epoch=4)
    assert path.name == "snapshot_4.pth.tar"
    assert [p.name for p in tmp_path.iterdir()] == ["snapshot_4.pth.tar"]  # no temporary file left behind
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert set(ckpt) == {"epoch", "network", "optimizer"} and ckpt["epoch"] == 4
    assert len(ckpt["network"]) == 732 and all(k.startswith("module.") for k in ckpt["network"])
    assert ckpt["network"]["module.human_model_layer.th_selected_comps"].shape == (6, 45)
    assert ckpt["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    load_network(dst, load_checkpoint_file(path)["network"])
    assert all(_same_entries(src, dst))


def test_official_checkpoint_with_human_model_buffers_loads(hand_pair, mano, tmp_path):
    src, dst = hand_pair
    state = _official_like_state(src, mano)
    assert state["module.human_model_layer.th_selected_comps"].shape == (6, 45)
    torch.save({"epoch": 24, "network": state, "optimizer": {}}, tmp_path / "snapshot_24.pth.tar")
    load_network(dst, load_checkpoint_file(tmp_path / "snapshot_24.pth.tar")["network"])
    assert all(_same_entries(src, dst))
    # keys without the DataParallel prefix load too
    del dst
    dst = _shifted_copy(src)
    load_network(dst, OrderedDict((k[len("module."):], v) for k, v in state.items()))
    assert all(_same_entries(src, dst))


# The refused loads go into the session's network itself: the keys are checked before loading, so nothing may be
# written (a write would also fail hand_net_readonly's teardown check).

def test_missing_network_key_fails_naming_it(hand_net_readonly, mano):
    net, writes = hand_net_readonly, _writes(hand_net_readonly)
    state = _official_like_state(net, mano)
    del state["module.pose_net.conv_z_1.1.running_var"]
    state["module.pose_net.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as err:
        load_network(net, state, source="snapshot_9.pth.tar")
    msg = str(err.value)
    assert "snapshot_9.pth.tar" in msg and "pose_net.conv_z_1.1.running_var" in msg and "pose_net.extra.weight" in msg
    assert _writes(net) == writes


def test_body_checkpoint_into_hand_network_reports_shape_mismatch(hand_net_readonly, mano):
    net, writes = hand_net_readonly, _writes(hand_net_readonly)
    state = _official_like_state(net, mano)
    state["module.pose2feat.conv.0.weight"] = torch.zeros(64, 1920, 3, 3)
    with pytest.raises(CheckpointError, match=r"pose2feat.conv.0.weight: checkpoint \(64, 1920, 3, 3\)"):
        load_network(net, state)
    assert _writes(net) == writes


def test_checkpoint_of_the_other_variant_is_named(hand_net_readonly, mano):
    """A body snapshot (6890 mesh_net outputs) given to the hand network says which variant the file holds."""
    net, writes = hand_net_readonly, _writes(hand_net_readonly)
    state = _official_like_state(net, mano)
    weight = state["module.mesh_net.conv_x.0.weight"]
    state["module.mesh_net.conv_x.0.weight"] = torch.zeros(6890, *weight.shape[1:])
    state["module.mesh_net.conv_x.0.bias"] = torch.zeros(6890)
    with pytest.raises(CheckpointError, match=r"holds the body \(SMPL\) network, but the config builds the hand "
                                              r"\(MANO\) one; run with body datasets"):
        load_network(net, state, source="snapshot_7.pth.tar")
    assert _writes(net) == writes
    info = inspect_checkpoint({"network": state, "optimizer": {}}, "snapshot_7.pth.tar")
    assert not info.is_hand and info.resnet_type == 50 and info.stage is None


def test_network_state_dict_matches_the_model_plus_buffers(hand_net_readonly, mano):
    state = network_state_dict(hand_net_readonly)
    own = hand_net_readonly.state_dict()
    assert list(state) == ["module." + k for k in own] + [
        "module.human_model_layer." + k for k in mano.checkpoint_buffers()]
    assert all(torch.equal(state["module." + k], v) for k, v in own.items())


class _NotATensor:
    """An arbitrary class: weights_only loading must refuse it."""


def test_loading_refuses_non_weights_pickles_and_names_missing_files(tmp_path):
    with pytest.raises(CheckpointError, match="Cannot find model at .*snapshot_3.pth.tar"):
        load_checkpoint_file(snapshot_path(tmp_path, 3))

    torch.save({"network": {}, "obj": _NotATensor()}, tmp_path / "snapshot_5.pth.tar")
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint_file(tmp_path / "snapshot_5.pth.tar")


def test_latest_snapshot_is_found_by_epoch_number(tmp_path):
    assert find_latest_snapshot(tmp_path) is None
    for e in (2, 10, 9):
        (tmp_path / f"snapshot_{e}.pth.tar").write_bytes(b"")
    (tmp_path / "snapshot_x.pth.tar").write_bytes(b"")
    assert find_latest_snapshot(tmp_path).name == "snapshot_10.pth.tar"


def test_failed_save_leaves_previous_file_intact(hand_net_readonly, tmp_path, monkeypatch):
    src = hand_net_readonly
    path = snapshot_path(tmp_path, 1)
    path.write_bytes(b"previous")

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, src, None, epoch=1)
    assert path.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_inspect_tool_reports_and_verifies_a_snapshot(hand_net_readonly, model_dir, tmp_path, capsys):
    from tools.inspect_checkpoint import main as inspect_main

    src = hand_net_readonly
    path = save_checkpoint(snapshot_path(tmp_path, 24), src, None, epoch=24)
    assert inspect_main([str(path), "--human_model_dir", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert "epoch: 24" in out and "entries: 732" in out and "hand (MANO)" in out and "resnet_type: 50" in out
    assert "th_selected_comps" in out and "loads strictly" in out
    state = load_checkpoint_file(path)["network"]
    del state["module.mesh_net.deconv.0.weight"]
    torch.save({"epoch": 1, "network": state, "optimizer": {}}, tmp_path / "snapshot_1.pth.tar")
    assert inspect_main([str(tmp_path / "snapshot_1.pth.tar"), "--human_model_dir", str(model_dir)]) == 1
    assert "mesh_net.deconv.0.weight" in capsys.readouterr().err


def test_wrapped_models_save_and_load_like_plain_ones(hand_pair):
    src, dst = hand_pair
    wrapped = torch.nn.DataParallel(src)
    plain, from_wrapped = network_state_dict(src), network_state_dict(wrapped)
    assert list(plain) == list(from_wrapped) and len(from_wrapped) == 732
    load_network(torch.nn.DataParallel(dst), from_wrapped)
    assert all(_same_entries(src, dst))


def test_network_keeps_its_own_body_model_layer(hand_net_readonly, mano):
    """Moving the network must not move the caller's layer.  Read on the session's network as ``I2LMeshNet(mano)``
    built it: a deep copy would pass whatever the constructor does."""
    assert hand_net_readonly.human_model_layer is not mano.layer()


# ----- resume metadata, file hygiene ---------------------------------------------------------------------------

class _Tiny(torch.nn.Module):
    """A small stand-in network (the checkpoint code only needs a state dict)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)
        self.bn = torch.nn.BatchNorm1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.fc(x))


def _tiny_with_adam() -> tuple[_Tiny, torch.optim.Adam]:
    torch.manual_seed(0)
    net = _Tiny()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    net(torch.rand(4, 3)).sum().backward()
    opt.step()
    return net, opt


def _draws() -> tuple:
    """A few draws from every global generator, including the cached Gaussians of NumPy and ``random``."""
    return (torch.rand(3).tolist(), np.random.rand(3).tolist(), np.random.normal(), random.random(), random.gauss(0, 1))


def test_resume_metadata_round_trips_through_a_weights_only_load(tmp_path):
    net, opt = _tiny_with_adam()
    np.random.normal()  # leaves a cached Gaussian in NumPy's legacy generator
    random.gauss(0, 1)  # and in Python's
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    extra = {"stage": "param", "iteration": 1234, "scaler": scaler.state_dict(), "rng": capture_rng_state(),
             "sampler": {"epoch": 3, "position": 40, "seed": 0}}
    expected = _draws()
    path = save_checkpoint(mid_epoch_path(tmp_path), net, opt, epoch=3, extra=extra)
    _draws()  # move every generator on
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert list(ckpt)[:3] == ["epoch", "network", "optimizer"] and ckpt["epoch"] == 3
    assert ckpt["stage"] == "param" and ckpt["iteration"] == 1234 and ckpt["sampler"] == extra["sampler"]
    assert ckpt["scaler"] == scaler.state_dict()
    restore_rng_state(ckpt["rng"])
    assert _draws() == expected
    restored = torch.amp.GradScaler("cpu")
    restored.load_state_dict(ckpt["scaler"])
    assert restored.get_scale() == 1024.0


def test_rng_state_without_cached_gaussians_round_trips():
    random.seed(5)
    np.random.seed(5)
    state = capture_rng_state()
    assert state["python"]["has_gauss_next"] == 0 and state["numpy"]["has_gauss"] == 0
    expected = _draws()
    restore_rng_state(state)
    assert _draws() == expected
    with pytest.raises(ValueError, match=r"missing key\(s\) \['python'\]"):
        restore_rng_state({k: v for k, v in state.items() if k != "python"})


@pytest.mark.parametrize("extra, message", [
    ({"rng": {"numpy": np.random.get_state()}}, r"extra\['rng'\]\['numpy'\]\[1\]: numpy.ndarray"),
    ({"iteration": np.int64(3)}, r"extra\['iteration'\]: numpy.int64"),
    ({"loss": np.float64(0.5)}, r"extra\['loss'\]: numpy.float64"),  # a float subclass, refused by weights_only
    ({"where": Path("/tmp")}, r"extra\['where'\]: pathlib"),
    ({"sampler": {1.5: 2}}, r"extra\['sampler'\]: key 1.5"),
])
def test_unsafe_extra_values_are_refused_naming_the_entry(tmp_path, extra, message):
    net, opt = _tiny_with_adam()
    with pytest.raises(TypeError, match=message):
        save_checkpoint(tmp_path / "x.pth", net, opt, epoch=0, extra=extra)
    assert list(tmp_path.iterdir()) == []


def test_official_keys_cannot_be_overridden_by_extra(tmp_path):
    net, opt = _tiny_with_adam()
    with pytest.raises(ValueError, match=r"extra\['epoch'\]: .*official keys"):
        save_checkpoint(tmp_path / "x.pth", net, opt, epoch=0, extra={"epoch": 5})


def test_numpy_lr_in_the_optimizer_is_refused(tmp_path):
    net, opt = _tiny_with_adam()
    opt.param_groups[0]["lr"] = np.float64(1e-5)  # would make the file unloadable with weights_only=True
    with pytest.raises(TypeError, match=r"optimizer state\['param_groups'\]\[0\]\['lr'\]: numpy.float64"):
        save_checkpoint(tmp_path / "x.pth", net, opt, epoch=0)


def test_payload_is_a_copy_of_weights_and_optimizer_state():
    net, opt = _tiny_with_adam()
    payload = checkpoint_payload(net, opt, epoch=1, extra={"rng": {"t": net.fc.bias}})
    weight = payload["network"]["module.fc.weight"].clone()
    exp_avg = payload["optimizer"]["state"][0]["exp_avg"].clone()
    running_mean = payload["network"]["module.bn.running_mean"].clone()
    net(torch.rand(4, 3)).sum().backward()
    opt.step()  # changes weights, BN statistics and Adam moments in place
    assert not torch.equal(net.fc.weight, weight) and not torch.equal(net.bn.running_mean, running_mean)
    assert torch.equal(payload["network"]["module.fc.weight"], weight)
    assert torch.equal(payload["network"]["module.bn.running_mean"], running_mean)
    assert torch.equal(payload["optimizer"]["state"][0]["exp_avg"], exp_avg)
    assert payload["rng"]["t"].data_ptr() != net.fc.bias.data_ptr()
    assert network_state_dict(net)["module.fc.weight"].data_ptr() != net.fc.weight.data_ptr()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_files_get_the_usual_permissions(tmp_path, umask, mode):
    net, _ = _tiny_with_adam()
    old = os.umask(umask)
    try:
        path = save_checkpoint(snapshot_path(tmp_path, 1), net, None, epoch=1)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


def test_compiled_and_wrapped_models_save_plain_keys(tmp_path):
    net, _ = _tiny_with_adam()
    compiled = torch.compile(net)  # an OptimizedModule; nothing is compiled until it is called
    assert list(compiled.state_dict())[0].startswith("_orig_mod.")
    for wrapped in (compiled, torch.nn.DataParallel(compiled), torch.compile(torch.nn.DataParallel(net))):
        assert unwrap(wrapped) is net
        assert list(network_state_dict(wrapped)) == ["module." + k for k in net.state_dict()]
    other = _Tiny()  # other random weights, unused BatchNorm statistics
    assert not any(_same_entries(other, net))
    load_network(torch.compile(other), network_state_dict(compiled))
    assert all(_same_entries(other, net))


def _original_continue_epoch(model_dir: Path) -> int:
    """The original's --continue (docs/training.md#resume): every *.pth.tar in the folder, the integer between
    'snapshot_' and '.pth.tar', the maximum.  int() raises on any other *.pth.tar name."""
    names = [p.name for p in model_dir.glob("*.pth.tar")]
    return max(int(n[n.find("snapshot_") + len("snapshot_"):n.find(".pth.tar")]) for n in names)


def test_mid_epoch_file_keeps_the_folder_usable_by_the_original(tmp_path):
    net, opt = _tiny_with_adam()
    for epoch in (0, 1):
        save_checkpoint(snapshot_path(tmp_path, epoch), net, opt, epoch)
    mid = save_checkpoint(mid_epoch_path(tmp_path), net, opt, 2, extra={"iteration": 17})
    (tmp_path / ".snapshot_2.pth.tar.abc123.tmp").write_bytes(b"partial")  # left by a killed save
    assert mid == tmp_path / "resume_mid_epoch.pth" and not mid.name.endswith(".pth.tar")
    assert find_latest_snapshot(tmp_path) == snapshot_path(tmp_path, 1)
    assert _original_continue_epoch(tmp_path) == 1
    assert load_checkpoint_file(mid)["iteration"] == 17


_KILLED_SAVE = """
import os, signal, sys, torch
sys.path.insert(0, {root!r})
from common.checkpoint import save_checkpoint
net = torch.nn.Linear(3, 2)
real_save = torch.save
def dying_save(obj, f):
    f.write(b"PK partial zip")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
torch.save = dying_save
save_checkpoint({path!r}, net, None, epoch=2)
"""


def test_a_killed_save_leaves_the_previous_snapshot_loadable(tmp_path):
    net, opt = _tiny_with_adam()
    path = save_checkpoint(snapshot_path(tmp_path, 2), net, opt, epoch=1)
    proc = subprocess.run([sys.executable, "-c", _KILLED_SAVE.format(root=str(ROOT), path=str(path))],
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    ckpt = load_checkpoint_file(path)
    assert ckpt["epoch"] == 1 and torch.equal(ckpt["network"]["module.fc.weight"], net.fc.weight)
    leftovers = [p.name for p in tmp_path.iterdir() if p != path]
    assert len(leftovers) == 1 and leftovers[0].startswith(".snapshot_2.pth.tar.")  # the interrupted temp file
    assert find_latest_snapshot(tmp_path) == path and _original_continue_epoch(tmp_path) == 2
