"""Network: official state-dict layout, forward outputs per stage/mode, gradient regions, initialisation."""
from pathlib import Path

import numpy as np
import pytest
import torch

from common.checkpoint import network_state_dict
from common.nets.module import soft_argmax_1d
from main.networks import build_model
from main.reference import gaussian_heatmap_3d
from tests.common.nets.test_loss import face_losses_reference
from tests.common.nets.test_resnet import _fake_imagenet_file, _trained_init
from tools.stand_in_weights import conditioned_init, random_batch

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def _spec_listing(name: str) -> list[tuple[str, tuple[int, ...], str]]:
    rows = []
    for line in (ASSETS / name).read_text().splitlines():
        key, shape, dtype = line.split()
        dims = tuple(int(d) for d in shape.strip("[]").split(",") if d)
        rows.append((key, dims, dtype))
    return rows


def _listing(model) -> list[tuple[str, tuple[int, ...], str]]:
    return [(k, tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in network_state_dict(model).items()]


# body_net / hand_net: private copies of the session's seed-0 networks; *_readonly: the session's networks themselves,
# for tests that only read them (tests/conftest.py)


def test_body_state_dict_equals_spec_appendix_a(body_net_readonly):
    assert _listing(body_net_readonly) == _spec_listing("state_dict_body_resnet50.txt")  # 730 entries, in file order


def test_hand_state_dict_equals_spec_appendix_b(hand_net_readonly):
    assert _listing(hand_net_readonly) == _spec_listing("state_dict_hand_resnet50.txt")  # 732 entries


@pytest.mark.parametrize("net_name, total", [("body_net_readonly", 142_335_471), ("hand_net_readonly", 137_272_839)])
def test_learnable_parameter_counts(request, net_name, total):
    net = request.getfixturevalue(net_name)
    assert sum(p.numel() for p in net.parameters()) == total
    assert sum(p.numel() for p in net.pose_backbone.parameters()) == 23_508_032


def test_soft_argmax_and_heatmap_on_known_values():
    logits = torch.full((1, 2, 64), -1e4)
    logits[0, 0, 10] = 0.0
    logits[0, 1, 20] = 0.0
    logits[0, 1, 21] = 0.0
    np.testing.assert_allclose(soft_argmax_1d(logits).numpy(), [[10.0, 20.5]], atol=1e-5)
    coord = torch.tensor([[[10.0, 20.0, 30.5]]])
    hm = gaussian_heatmap_3d(coord, (64, 64, 64), 2.5)
    assert hm.shape == (1, 1, 64, 64, 64)
    z, y, x = 31, 22, 9
    want = np.exp(-((x - 10.0) ** 2 + (y - 20.0) ** 2 + (z - 30.5) ** 2) / (2 * 2.5 ** 2))
    np.testing.assert_allclose(hm[0, 0, z, y, x].item(), want, rtol=1e-6)
    assert hm[0, 0, 30, 20, 10].item() == pytest.approx(np.exp(-0.25 ** 2 / 2 / 2.5 ** 2 * 4), rel=1e-6)


LIXEL_KEYS = ["joint_fit", "joint_orig", "mesh_fit", "mesh_joint_orig", "mesh_joint_fit", "mesh_normal", "mesh_edge"]
PARAM_KEYS = ["pose_param", "shape_param", "joint_orig_cam", "joint_fit_cam"]


@pytest.mark.parametrize("net_name, hm_name", [("body_net", "smpl"), ("hand_net", "mano")])
def test_outputs_and_losses_in_both_stages_and_modes(request, net_name, hm_name):
    net, human_model = request.getfixturevalue(net_name), request.getfixturevalue(hm_name)
    # weights whose outputs depend on the image (at the construction-time init every joint sits near the centre)
    conditioned_init(net, seed=1, calibration_size=2)
    j, v, f = human_model.joint_num, human_model.vertex_num, len(human_model.face)
    inputs, targets, meta = random_batch(human_model, 2)
    net.eval()
    out = {}
    for stage in ("lixel", "param"):  # both test passes before any train-mode pass changes the BatchNorm statistics
        net.stage = stage
        with torch.no_grad():
            out[stage] = net(inputs, targets, meta, "test")
    assert {k: tuple(t.shape) for k, t in out["lixel"].items()} == {"joint_coord_img": (2, j, 3),
                                                                     "mesh_coord_img": (2, v, 3)}
    pose_dim = 72 if human_model.vertex_num == 6890 else 48
    assert {k: tuple(t.shape) for k, t in out["param"].items()} == {"joint_coord_img": (2, j, 3),
                                                                     "mesh_coord_img": (2, v, 3),
                                                                     "mesh_coord_cam": (2, v, 3),
                                                                     "pose_param": (2, pose_dim),
                                                                     "shape_param": (2, 10)}
    # the reported mesh is the layer's mesh of the reported parameters, made root-relative
    with torch.no_grad():
        mesh, _ = human_model.forward(out["param"]["pose_param"], out["param"]["shape_param"])
    mesh = mesh - (torch.tensor(human_model.joint_regressor[0]) @ mesh)[:, None]
    torch.testing.assert_close(out["param"]["mesh_coord_cam"], mesh, atol=1e-3, rtol=0)
    # the param stage runs the lixel stage's computation first and reports its outputs unchanged
    for key in ("joint_coord_img", "mesh_coord_img"):
        assert torch.equal(out["param"][key], out["lixel"][key]), key
    assert (out["lixel"]["joint_coord_img"][0] - out["lixel"]["joint_coord_img"][1]).abs().max() > 0.5  # per image
    root = torch.tensor(human_model.joint_regressor[0]) @ out["param"]["mesh_coord_cam"]
    assert root.abs().max() < 1e-4  # root-relative: the regressed root is at the origin
    net.train()
    for stage in ("lixel", "param"):
        net.stage = stage
        with torch.no_grad():
            loss = net(inputs, targets, meta, "train")
        if stage == "lixel":
            assert list(loss) == LIXEL_KEYS
            shapes = [(2, j, 3), (2, j, 3), (2, v, 3), (2, j, 3), (2, j, 3), (2, 3 * f, 1), (2, 3 * f, 1)]
        else:
            assert list(loss) == PARAM_KEYS
            shapes = [(2, human_model.orig_joint_num * 3), (2, 10), (2, j, 3), (2, j, 3)]
        assert [tuple(t.shape) for t in loss.values()] == shapes
        assert all(torch.isfinite(t).all() for t in loss.values())


def test_loss_keys_use_the_spec_targets_and_masks(body_net, smpl):
    """Each loss key against |pred - target| * mask written out from the loss table of docs/network.md#losses."""
    _, targets, meta = random_batch(smpl, 2, seed=3)
    meta["is_3D"] = torch.tensor([1.0, 0.0], dtype=torch.float64)
    meta["is_valid_fit"] = torch.tensor([0.0, 1.0], dtype=torch.float64)
    g = torch.Generator().manual_seed(4)
    out = {"joint_coord_img": torch.rand(2, 29, 3, generator=g) * 64,
           "mesh_coord_img": torch.rand(2, 6890, 3, generator=g) * 64,
           "joint_img_from_mesh": torch.rand(2, 29, 3, generator=g) * 64,
           "pose_param": torch.randn(2, 72, generator=g), "shape_param": torch.randn(2, 10, generator=g),
           "joint_coord_cam": torch.randn(2, 29, 3, generator=g)}
    meta["orig_joint_trunc"][0, :5] = 0
    meta["fit_joint_trunc"][1, 3:9] = 0
    meta["orig_joint_valid"][1, 10:] = 0
    meta["fit_mesh_trunc"][1, ::5] = 0  # faces with one masked corner: a mask taken from the wrong corner shows
    fit = meta["is_valid_fit"][:, None, None]
    z_mask = torch.ones(2, 1, 3, dtype=torch.float64)
    z_mask[:, 0, 2] = meta["is_3D"]
    expected_lixel = {
        "joint_fit": (out["joint_coord_img"] - targets["fit_joint_img"]).abs() * meta["fit_joint_trunc"] * fit,
        "joint_orig": (out["joint_coord_img"] - targets["orig_joint_img"]).abs() * meta["orig_joint_trunc"] * z_mask,
        "mesh_fit": (out["mesh_coord_img"] - targets["fit_mesh_img"]).abs() * meta["fit_mesh_trunc"] * fit,
        "mesh_joint_orig": (out["joint_img_from_mesh"] - targets["orig_joint_img"]).abs()
        * meta["orig_joint_trunc"] * z_mask,
        "mesh_joint_fit": (out["joint_img_from_mesh"] - targets["fit_joint_img"]).abs() * meta["fit_joint_trunc"] * fit,
    }
    loss = body_net.losses(out, targets, meta)
    assert list(loss) == LIXEL_KEYS
    for key, want in expected_lixel.items():
        torch.testing.assert_close(loss[key], want.to(loss[key].dtype), msg=key)
    # normal and edge terms written out in float64 (tests/common/nets/test_loss.py); the normal term weighs 0.1
    want_normal, want_edge = face_losses_reference(out["mesh_coord_img"], targets["fit_mesh_img"],
                                                   meta["fit_mesh_trunc"] * fit, smpl.face)
    assert want_edge[1].max() > 1 and (want_edge[1] == 0).any() and not want_edge[0].any()
    # tolerances: the float32 loss against float64 on the same float32 inputs; the normal terms of the few
    # near-degenerate random GT faces lose a few more digits in float32
    torch.testing.assert_close(loss["mesh_normal"], torch.from_numpy(0.1 * want_normal).to(loss["mesh_normal"].dtype),
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(loss["mesh_edge"], torch.from_numpy(want_edge).to(loss["mesh_edge"].dtype),
                               rtol=1e-5, atol=1e-5)
    assert loss["joint_fit"].dtype == torch.float64  # float64 masks (docs/quirks.md#q-float64-masks)

    body_net.stage = "param"
    try:
        loss = body_net.losses(out, targets, meta)
    finally:
        body_net.stage = "lixel"
    assert list(loss) == PARAM_KEYS
    fit2 = meta["is_valid_fit"][:, None]
    torch.testing.assert_close(loss["pose_param"], ((out["pose_param"] - targets["pose_param"]).abs() * fit2))
    torch.testing.assert_close(loss["shape_param"], ((out["shape_param"] - targets["shape_param"]).abs() * fit2))
    torch.testing.assert_close(loss["joint_orig_cam"], (out["joint_coord_cam"] - targets["orig_joint_cam"]).abs()
                               * meta["orig_joint_valid"] * meta["is_3D"][:, None, None])
    torch.testing.assert_close(loss["joint_fit_cam"], (out["joint_coord_cam"] - targets["fit_joint_cam"]).abs() * fit)


def test_joint_img_from_mesh_is_the_i2l_regressor_on_the_lixel_mesh(body_net, smpl):
    body_net.eval()
    with torch.no_grad():
        out = body_net.forward_lixel(torch.rand(1, 3, 256, 256))
    torch.testing.assert_close(out["joint_img_from_mesh"], torch.tensor(smpl.joint_regressor) @ out["mesh_coord_img"])


def test_param_stage_trains_only_the_param_regressor(body_net, smpl):
    inputs, targets, meta = random_batch(smpl, 2, seed=1)
    body_net.zero_grad(set_to_none=True)
    body_net.stage = "param"
    body_net.train()
    try:
        bn = body_net.pose_backbone.bn1
        before = bn.running_mean.clone()
        loss = body_net(inputs, targets, meta, "train")
        sum(t.mean() for t in loss.values()).backward()
        with_grad = {n.split(".")[0] for n, p in body_net.named_parameters() if p.grad is not None}
        assert with_grad == {"param_regressor"}
        assert all(p.grad is not None for p in body_net.param_regressor.parameters())
        assert body_net.trainable_module_names() == ("param_regressor",)
        # frozen part still runs BN in train mode and updates its running stats
        # (docs/quirks.md#q-batchnorm-trains-in-param-stage)
        assert not torch.equal(before, bn.running_mean)
    finally:
        body_net.stage = "lixel"
        body_net.zero_grad(set_to_none=True)


def test_lixel_stage_gradients_reach_the_lixel_part_only(hand_net, mano):
    inputs, targets, meta = random_batch(mano, 2, seed=2)
    hand_net.zero_grad(set_to_none=True)
    hand_net.train()
    loss = hand_net(inputs, targets, meta, "train")
    sum(t.mean() for t in loss.values()).backward()
    with_grad = {n.split(".")[0] for n, p in hand_net.named_parameters() if p.grad is not None}
    assert with_grad == {"pose_backbone", "pose_net", "pose2feat", "mesh_backbone", "mesh_net"}
    # the second trunk's stem never runs, yet is saved (docs/quirks.md#q-unused-saved-parameters)
    assert hand_net.mesh_backbone.conv1.weight.grad is None
    assert hand_net.trainable_module_names() == ("pose_backbone", "pose_net", "pose2feat", "mesh_backbone",
                                                 "mesh_net")
    hand_net.zero_grad(set_to_none=True)


def test_training_init_loads_imagenet_trunks_and_initialises_heads(mano, tmp_path, capsys):
    weights = _fake_imagenet_file(tmp_path / "resnet50-0676ba61.pth")
    net = _trained_init(build_model(mano, "lixel"), tmp_path / "resnet50-0676ba61.pth")
    assert capsys.readouterr().out.count("Initialize resnet from model zoo") == 2
    for trunk in (net.pose_backbone, net.mesh_backbone):
        torch.testing.assert_close(trunk.layer3[2].conv2.weight, weights["layer3.2.conv2.weight"])
        torch.testing.assert_close(trunk.conv1.weight, weights["conv1.weight"])
    # heads: ConvTranspose2d / Conv2d ~ N(0, 0.001), Linear ~ N(0, 0.01) with zero bias; Conv1d keeps torch defaults
    assert abs(net.pose_net.deconv[0].weight.std().item() - 0.001) < 1e-4
    assert abs(net.pose2feat.conv[0].weight.std().item() - 0.001) < 1e-4 and net.pose2feat.conv[0].bias.abs().max() == 0
    assert abs(net.param_regressor.fc[0].weight.std().item() - 0.01) < 1e-3
    assert net.param_regressor.fc[0].bias.abs().max() == 0
    conv_x = net.mesh_net.conv_x[0]
    bound = 1 / np.sqrt(256)  # kaiming-uniform(a=sqrt 5) bound for fan_in 256
    assert conv_x.weight.abs().max() <= bound and conv_x.weight.abs().max() > 0.9 * bound
    assert conv_x.bias.abs().max() > 0
