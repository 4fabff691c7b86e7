"""Autocast keeps float32 where the original's numbers need it (docs/network.md#mixed-precision), and the precision
helpers."""
import pytest
import torch
import torch.nn.functional as F

from common.nets.module import LixelHead, soft_argmax_1d
from common.nets.precision import amp_dtype, autocast_context, make_grad_scaler
from common.optim import make_optimizer
from main.model import I2LMeshNet
from main.reference import ReferenceLixelHead
from tools.stand_in_weights import random_batch

BF16 = {"device_type": "cpu", "dtype": torch.bfloat16}


@pytest.fixture
def hand_net(hand_net_factory):
    """A private copy of the session's seed-0 hand network (tests/conftest.py), in eval mode.  Tests that only read
    the network take hand_net_readonly (the session's network itself)."""
    return hand_net_factory().eval()


@pytest.mark.parametrize("variant", ["hand", "body"])
def test_param_path_under_bf16_autocast_equals_fp32(request, variant):
    """ParamRegressor, 6D -> axis-angle, SMPL/MANO and the joint regression on fixed lixel joints."""
    human_model = request.getfixturevalue("mano" if variant == "hand" else "smpl")
    torch.manual_seed(1)
    net = I2LMeshNet(human_model, stage="param").eval()
    joints = torch.rand(3, human_model.joint_num, 3, generator=torch.Generator().manual_seed(2)) * 63
    with torch.no_grad():
        want = net.forward_param(joints)
        with torch.autocast(**BF16):
            got = net.forward_param(joints)
    assert want["mesh_coord_cam"].abs().max() > (0.05 if variant == "body" else 50)  # a real mesh (m / mm)
    for key, value in got.items():
        assert value.dtype == torch.float32, key
        torch.testing.assert_close(value, want[key], rtol=1.3e-6, atol=1e-6 * want[key].abs().max(), msg=key)


def test_regression_and_soft_argmax_run_in_fp32_under_autocast(hand_net_readonly):
    hand_net = hand_net_readonly
    mesh = torch.rand(2, 778, 3) * 64
    logits = torch.randn(2, 5, 64) * 3
    with torch.autocast(**BF16):
        joints = hand_net.regress_joints(mesh)
        coords = soft_argmax_1d(logits.bfloat16())
    assert joints.dtype == coords.dtype == torch.float32
    torch.testing.assert_close(joints, hand_net.regress_joints(mesh))
    torch.testing.assert_close(coords, soft_argmax_1d(logits.bfloat16().float()))


@pytest.mark.parametrize("head_cls", [LixelHead, ReferenceLixelHead])
def test_lixel_head_after_the_deconvolutions_runs_in_fp32_under_autocast(head_cls):
    """Axis means, the z branch, the last 1x1 convs (logits) and the soft-argmax are float32 under bf16 autocast:
    the head equals an independent float32 computation on the bf16 deconvolution output to float rounding."""
    torch.manual_seed(3)
    head = head_cls(7).eval()
    for conv in (head.conv_x, head.conv_y, head.conv_z_2):
        torch.nn.init.normal_(conv[0].weight, std=0.5)  # logits of a few units, as in a trained head
    img_feat = torch.randn(2, 2048, 8, 8)
    with torch.no_grad(), torch.autocast(**BF16):
        got = head(img_feat)
        feat_xy = head.deconv(img_feat)
    assert feat_xy.dtype == torch.bfloat16
    with torch.no_grad():
        feat_xy = feat_xy.float()
        feat_z = head.conv_z_1(img_feat.mean(dim=(2, 3))[:, :, None]).view(2, 256, 64)
        want = []
        for conv, feat in ((head.conv_x, feat_xy.mean(dim=2)), (head.conv_y, feat_xy.mean(dim=3)),
                           (head.conv_z_2, feat_z)):
            logits = F.conv1d(feat, conv[0].weight, conv[0].bias)  # (2, 7, 64)
            want.append((torch.softmax(logits, dim=2) * torch.arange(64.0)).sum(dim=2))
    want = torch.stack(want, dim=2)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=0, atol=1e-4)


def test_outputs_and_losses_are_float_under_bf16_autocast(hand_net, mano):
    inputs, targets, meta = random_batch(mano, 2, seed=4)
    try:
        for stage in ("lixel", "param"):
            hand_net.stage = stage
            with torch.no_grad(), torch.autocast(**BF16):
                out = hand_net(inputs, targets, meta, "test")
                loss = hand_net(inputs, targets, meta, "train")  # eval-mode BN
            for key, value in out.items():
                assert value.dtype == torch.float32, (stage, key)
                value.numpy()  # bf16 tensors cannot be converted
            # float32, or float64 where the masks are float64: is_valid_fit / is_3D are Python floats
            # (docs/quirks.md#q-float64-masks)
            assert all(v.dtype in (torch.float32, torch.float64) for v in loss.values()), stage
    finally:
        hand_net.stage = "lixel"


def test_losses_under_autocast_equal_fp32(hand_net_readonly, mano):
    hand_net = hand_net_readonly
    _, targets, meta = random_batch(mano, 2, seed=5)
    g = torch.Generator().manual_seed(6)
    out = {"joint_coord_img": torch.rand(2, 21, 3, generator=g) * 64,
           "mesh_coord_img": torch.rand(2, 778, 3, generator=g) * 64,
           "joint_img_from_mesh": torch.rand(2, 21, 3, generator=g) * 64}
    want = hand_net.losses(out, targets, meta)
    with torch.autocast(**BF16):
        got = hand_net.losses(out, targets, meta)
    for key in want:
        torch.testing.assert_close(got[key], want[key], msg=key)


def test_autocast_context_and_grad_scaler():
    x = torch.randn(4, 4)
    with autocast_context("cpu", "bf16"):
        assert (x @ x).dtype == torch.bfloat16
        with autocast_context("cpu", None):  # fp32 switches an enclosing autocast off
            assert (x @ x).dtype == torch.float32
    assert amp_dtype("fp32") is None and amp_dtype("fp16") == torch.float16
    with pytest.raises(ValueError, match="--amp 'int8'"):
        amp_dtype("int8")
    assert make_grad_scaler("cpu", "fp16").is_enabled()
    assert not make_grad_scaler("cpu", "bf16").is_enabled() and not make_grad_scaler("cpu", None).is_enabled()


def test_make_optimizer_is_fused_adam_equal_to_the_reference():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(50, 7)), torch.nn.Parameter(torch.randn(3))]
    reference = [torch.nn.Parameter(p.detach().clone()) for p in params]
    opt = make_optimizer(params, lr=1e-3)
    ref = torch.optim.Adam(reference, lr=1e-3, foreach=False)
    assert opt.param_groups[0]["fused"] is True
    for step in range(3):
        for p, r in zip(params, reference):
            grad = torch.randn(p.shape, generator=torch.Generator().manual_seed(step))
            p.grad, r.grad = grad.clone(), grad.clone()
        opt.step()
        ref.step()
    for p, r in zip(params, reference):
        torch.testing.assert_close(p, r, rtol=1e-6, atol=1e-7)
    assert set(opt.state_dict()["state"][0]) == set(ref.state_dict()["state"][0])  # step, exp_avg, exp_avg_sq


def test_slow_bf16_warning_only_on_cpus_without_bf16_instructions():
    from common.nets.precision import cpu_has_native_bf16, slow_amp_warning

    plain = "flags\t\t: fpu sse2 avx2 avx512f\n"
    assert cpu_has_native_bf16(plain) is False
    assert cpu_has_native_bf16(plain + "flags : amx_bf16\n") and cpu_has_native_bf16("flags : avx512_bf16\n")
    warning = slow_amp_warning("cpu", "bf16", plain)
    assert "--amp bf16" in warning and "AVX512-BF16" in warning and "fp32" in warning
    assert slow_amp_warning("cpu", "bf16", "flags : avx512_bf16") is None
    assert slow_amp_warning("cpu", "fp32", plain) is None and slow_amp_warning("cuda", "bf16", plain) is None
