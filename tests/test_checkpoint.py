"""The checkpoint contract: official format out, official files in (keys normalised, strict), atomic writes."""
from collections import OrderedDict

import pytest
import torch

from common.checkpoint import (CheckpointError, find_latest_snapshot, load_checkpoint_file, load_network,
                               network_state_dict, save_checkpoint, snapshot_path)
from main.model import I2LMeshNet


@pytest.fixture(scope="module")
def hand_pair(mano):
    torch.manual_seed(0)
    a = I2LMeshNet(mano)
    torch.manual_seed(1)
    b = I2LMeshNet(mano)
    return a, b


def _official_like_state(net, mano) -> "OrderedDict[str, torch.Tensor]":
    """What the original saves through DataParallel: 'module.' keys plus the vendored MANO layer's buffers."""
    state = OrderedDict(("module." + k, v.clone()) for k, v in net.state_dict().items())
    for name, buf in mano.checkpoint_buffers().items():
        state["module.human_model_layer." + name] = buf.clone()
    return state


def test_saved_snapshot_has_the_official_format_and_round_trips(hand_pair, tmp_path):
    src, dst = hand_pair
    opt = torch.optim.Adam(src.param_regressor.parameters(), lr=1e-4)
    src.param_regressor(torch.rand(2, 21, 3)).__getitem__(0).sum().backward()
    opt.step()
    path = save_checkpoint(snapshot_path(tmp_path, 4), src, opt, epoch=4)
    assert path.name == "snapshot_4.pth.tar"
    assert [p.name for p in tmp_path.iterdir()] == ["snapshot_4.pth.tar"]  # no temporary file left behind
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert set(ckpt) == {"epoch", "network", "optimizer"} and ckpt["epoch"] == 4
    assert len(ckpt["network"]) == 732 and all(k.startswith("module.") for k in ckpt["network"])
    assert ckpt["network"]["module.human_model_layer.th_selected_comps"].shape == (6, 45)
    assert ckpt["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    load_network(dst, load_checkpoint_file(path)["network"])
    for (ka, va), (kb, vb) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_official_checkpoint_with_human_model_buffers_loads(hand_pair, mano, tmp_path):
    src, dst = hand_pair
    state = _official_like_state(src, mano)
    assert state["module.human_model_layer.th_selected_comps"].shape == (6, 45)
    torch.save({"epoch": 24, "network": state, "optimizer": {}}, tmp_path / "snapshot_24.pth.tar")
    load_network(dst, load_checkpoint_file(tmp_path / "snapshot_24.pth.tar")["network"])
    torch.testing.assert_close(dst.mesh_net.conv_z_2[0].weight, src.mesh_net.conv_z_2[0].weight)
    # keys without the DataParallel prefix load too
    load_network(dst, OrderedDict((k[len("module."):], v) for k, v in state.items()))


def test_missing_network_key_fails_naming_it(hand_pair, mano):
    src, dst = hand_pair
    state = _official_like_state(src, mano)
    del state["module.pose_net.conv_z_1.1.running_var"]
    state["module.pose_net.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as err:
        load_network(dst, state, source="snapshot_9.pth.tar")
    msg = str(err.value)
    assert "snapshot_9.pth.tar" in msg and "pose_net.conv_z_1.1.running_var" in msg and "pose_net.extra.weight" in msg


def test_body_checkpoint_into_hand_network_reports_shape_mismatch(hand_pair, mano):
    src, dst = hand_pair
    state = _official_like_state(src, mano)
    state["module.pose2feat.conv.0.weight"] = torch.zeros(64, 1920, 3, 3)
    with pytest.raises(CheckpointError, match=r"pose2feat.conv.0.weight: checkpoint \(64, 1920, 3, 3\)"):
        load_network(dst, state)


def test_network_state_dict_matches_the_model_plus_buffers(hand_pair):
    src, _ = hand_pair
    state = network_state_dict(src)
    assert list(state)[:len(src.state_dict())] == ["module." + k for k in src.state_dict()]


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


def test_failed_save_leaves_previous_file_intact(hand_pair, tmp_path, monkeypatch):
    src, _ = hand_pair
    path = snapshot_path(tmp_path, 1)
    path.write_bytes(b"previous")

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, src, None, epoch=1)
    assert path.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_inspect_tool_reports_and_verifies_a_snapshot(hand_pair, mano, model_dir, tmp_path, capsys):
    from tools.inspect_checkpoint import main as inspect_main

    src, _ = hand_pair
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
    torch.testing.assert_close(dst.pose2feat.conv[0].weight, src.pose2feat.conv[0].weight)


def test_network_keeps_its_own_body_model_layer(mano):
    net = I2LMeshNet(mano)
    assert net.human_model_layer is not mano.layer()  # moving the network must not move the caller's layer
