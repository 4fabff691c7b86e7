"""The fast path (:class:`I2LMeshNet`, :func:`prepare_inference`) against the reference (the original's operation
order, :class:`ReferenceI2LMeshNet`).

Tolerances: lixel outputs <= 5e-3 hm units, param mesh <= 1e-4 m (body) / 5e-2 mm (hand), every loss
<= 1e-4 relative.  The end-to-end checks use :func:`conditioned_init` weights (a deep BatchNorm network at random
initialisation amplifies rounding errors far beyond these tolerances, docs/network.md#same-math).
"""
import copy

import pytest
import torch
from torch import nn

from common.nets.inference import prepare_inference
from common.nets.module import LixelHead, Pose2Feat, _axis_means
from main.model import I2LMeshNet
from main.networks import build_model
from main.reference import ReferenceI2LMeshNet, ReferenceLixelHead, ReferencePose2Feat, gaussian_heatmap_3d
from tools.stand_in_weights import conditioned_init, diverse_images, random_batch

MESH_TOL = {"body": 1e-4, "hand": 5e-2}  # metres (SMPL) / millimetres (MANO)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def plain_conv(module: Pose2Feat, img: torch.Tensor, heatmap: torch.Tensor) -> torch.Tensor:
    """The convolution of the features concatenated with the (B, J, D, H, W) heat maps, written out here."""
    b, j, d, h, w = heatmap.shape
    return module.conv(torch.cat([img, heatmap.reshape(b, j * d, h, w)], dim=1))


def test_separable_pose2feat_equals_the_heatmap_convolution():
    torch.manual_seed(0)
    j = 21
    plain = Pose2Feat(j)
    nn.init.normal_(plain.conv[0].weight, std=0.02)
    nn.init.normal_(plain.conv[0].bias, std=0.1)
    fast = copy.deepcopy(plain)
    reference = copy.deepcopy(plain)
    coord = torch.rand(2, j, 3) * 70 - 3  # some joints off the grid
    coord[0, 0] = torch.tensor([0.3, 63.2, 10.0])  # at the borders, where the conv's zero padding matters
    img = torch.randn(2, 64, 64, 64)
    img_plain = img.clone().requires_grad_()
    img_fast = img.contiguous(memory_format=torch.channels_last).requires_grad_()
    heatmap = gaussian_heatmap_3d(coord, (64, 64, 64), 2.5)
    out_plain = plain_conv(plain, img_plain, heatmap)
    out_fast = fast(img_fast, coord, 2.5)
    with torch.no_grad():  # the reference module computes exactly the written-out convolution
        torch.testing.assert_close(ReferencePose2Feat.forward(reference, img, coord, 2.5), out_plain, rtol=0, atol=0)
    torch.testing.assert_close(out_fast, out_plain, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(fast.conv[1].running_var, plain.conv[1].running_var)
    with torch.no_grad():  # the heat-map part is not negligible
        assert (plain_conv(plain, img, torch.zeros_like(heatmap)) - out_plain).abs().max() > 0.1
    grad_out = torch.randn_like(out_plain)
    (out_plain * grad_out).sum().backward()
    (out_fast * grad_out).sum().backward()
    assert _rel(fast.conv[0].weight.grad, plain.conv[0].weight.grad) < 1e-5
    assert _rel(img_fast.grad, img_plain.grad) < 1e-5
    # The conv bias before a train-mode BatchNorm has a zero gradient (the BatchNorm removes any per-channel shift):
    # what float32 gives is the rounding of a sum over 2 x 64 x 64 positions that cancels, about 5e-4 here (1e-6 of
    # the weight gradient) in both paths.  The fast path's rounding may be no worse than 4x the reference's ...
    assert fast.conv[0].bias.grad.abs().max() <= 4 * plain.conv[0].bias.grad.abs().max()
    # ... and in float64 its bias gradient is zero to float64 rounding (5e-16 of the weight gradient here): a real
    # gradient reaching the bias would show at full size.
    fast64 = copy.deepcopy(fast).double()
    fast64.zero_grad(set_to_none=True)
    img64 = img.double().contiguous(memory_format=torch.channels_last)
    (fast64(img64, coord.double(), 2.5) * grad_out.double()).sum().backward()
    assert fast64.conv[0].bias.grad.abs().max() < 1e-12 * fast64.conv[0].weight.grad.abs().max()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("channels_last", [False, True])
def test_axis_means_equal_mean_and_its_gradient(channels_last, dtype):
    """Float32 means of any input dtype, the gradient of a mean (1/H, 1/W) in the input dtype."""
    feat = torch.randn(2, 16, 64, 32, dtype=torch.float64).to(dtype)
    if channels_last:
        feat = feat.contiguous(memory_format=torch.channels_last)
    feat.requires_grad_(True)
    ref = feat.detach().double().requires_grad_(True)
    mean_h, mean_w = _axis_means(feat)
    assert mean_h.dtype == mean_w.dtype == torch.float32
    torch.testing.assert_close(mean_h.double(), ref.mean(dim=2), rtol=0, atol=1e-6)
    torch.testing.assert_close(mean_w.double(), ref.mean(dim=3), rtol=0, atol=1e-6)
    grad_h, grad_w = torch.randn_like(mean_h), torch.randn_like(mean_w)
    ((mean_h * grad_h).sum() + (mean_w * grad_w).sum()).backward()
    ((ref.mean(dim=2) * grad_h.double()).sum() + (ref.mean(dim=3) * grad_w.double()).sum()).backward()
    assert feat.grad.dtype == dtype
    tol = 1e-7 if dtype == torch.float32 else 2 ** -8 * ref.grad.abs().max().item()  # one rounding to the dtype
    torch.testing.assert_close(feat.grad.double(), ref.grad, rtol=0, atol=tol)


def test_axis_means_save_nothing_for_backward():
    """The float32 copy of a bf16 activation must not stay alive until the backward pass (training memory)."""
    feat = torch.randn(2, 16, 64, 32, dtype=torch.bfloat16, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        mean_h, mean_w = _axis_means(feat)
    assert saved == []
    (mean_h.sum() + mean_w.sum()).backward()
    torch.testing.assert_close(feat.grad.float(), torch.full(feat.shape, 1 / 64 + 1 / 32))


def test_lixel_head_fast_and_point_subset_equal_plain():
    torch.manual_seed(0)
    head = LixelHead(40).eval()
    for conv in (head.conv_x, head.conv_y, head.conv_z_2):
        conv[0].weight.data *= 30  # logits of a few units: peaked, input-dependent distributions
    feat = torch.randn(3, 2048, 8, 8)
    reference = ReferenceLixelHead(40).eval()
    reference.load_state_dict(head.state_dict())
    with torch.no_grad():
        plain = reference(feat)
        fast = head(feat.contiguous(memory_format=torch.channels_last))
        points = torch.tensor([3, 0, 17, 39])
        subset = head(feat, points)
    assert plain.std() > 1  # outputs depend on the input
    torch.testing.assert_close(fast, plain, atol=1e-4, rtol=0)
    torch.testing.assert_close(subset, plain[:, points], atol=1e-4, rtol=0)


def test_drivers_get_the_fast_path_and_exact_the_reference(mano):
    fast = build_model(mano, "lixel")
    exact = build_model(mano, "lixel", exact=True)
    assert type(fast) is I2LMeshNet and type(exact) is ReferenceI2LMeshNet
    assert type(exact.pose_net) is ReferenceLixelHead and type(exact.pose2feat) is ReferencePose2Feat
    assert list(fast.state_dict()) == list(exact.state_dict())  # one checkpoint format
    with pytest.raises(ValueError, match="recompute"):
        build_model(mano, "lixel", recompute=True, exact=True)


@pytest.fixture(scope="module", params=["hand", "body"])
def conditioned(request):
    human_model = request.getfixturevalue("mano" if request.param == "hand" else "smpl")
    net = ReferenceI2LMeshNet(human_model)
    conditioned_init(net)
    inputs = {"img": diverse_images(2, seed=5)}
    _, targets, meta = random_batch(human_model, 2, seed=3)
    return request.param, net, inputs, targets, meta


@pytest.mark.slow
def test_fast_equals_plain_outputs_and_losses(conditioned):
    """Test outputs (param stage: all of them) of the fast and the prepared path, the losses of both stages and, for
    the hand, the lixel-stage gradients.

    Gradients through the trunks' many BatchNorm layers carry rounding noise far above float32 precision, hence the
    loose gradient bound; a wrong backward of the separable Pose2Feat would be off by O(1).
    """
    variant, reference, inputs, targets, meta = conditioned
    fast_net = I2LMeshNet(reference.human_model)
    fast_net.load_state_dict(reference.state_dict())
    fast_net.eval()
    grad_names = ("pose2feat.conv.0.weight", "mesh_net.conv_z_1.0.weight", "mesh_backbone.layer1.0.conv1.weight",
                  "pose_backbone.conv1.weight")
    out, loss, grads = {}, {}, {}
    try:
        for fast, net in ((False, reference), (True, fast_net)):
            params = dict(net.named_parameters())
            for stage in ("lixel", "param"):
                net.stage = stage
                net.zero_grad(set_to_none=True)
                with torch.set_grad_enabled(variant == "hand" and stage == "lixel"):
                    loss[fast, stage] = net(inputs, targets, meta, "train")  # eval-mode BN: no state change
                if variant == "hand" and stage == "lixel":
                    sum(v.mean() for v in loss[fast, stage].values()).backward()
                    grads[fast] = {n: params[n].grad.clone() for n in grad_names}
            with torch.no_grad():
                out[fast] = net(inputs, {}, meta, "test")
        with torch.inference_mode():
            out["prepared"] = prepare_inference(fast_net)(inputs, {}, meta, "test")
    finally:
        reference.stage = "lixel"
        reference.zero_grad(set_to_none=True)
    plain = out[False]
    assert plain["mesh_coord_img"].std() > 1  # outputs depend on the input
    for got in (out[True], out["prepared"]):
        assert list(got) == list(plain)
        for key in ("joint_coord_img", "mesh_coord_img"):
            assert (got[key] - plain[key]).abs().max() <= 5e-3, key
        assert (got["mesh_coord_cam"] - plain["mesh_coord_cam"]).abs().max() <= MESH_TOL[variant]
    for stage in ("lixel", "param"):
        assert list(loss[True, stage]) == list(loss[False, stage])
        for key, value in loss[False, stage].items():
            want, got = float(value.detach().mean()), float(loss[True, stage][key].detach().mean())
            assert abs(got - want) <= 1e-4 * abs(want), (stage, key)
    for name in grads.get(False, {}):
        err = (grads[True][name] - grads[False][name]).norm() / grads[False][name].norm()
        assert err < 1e-2, name


@pytest.mark.slow
def test_fast_and_reference_are_the_same_math_in_float64(conditioned):
    """In float64 the two operation orders agree to float64 rounding (same math); in float32 the fast path is about
    as far from the float64 result as the reference's own float32 run is (same precision)."""
    variant, reference, inputs, _, meta = conditioned
    nets = {}
    for dtype in (torch.float64, torch.float32):
        for name, cls in (("reference", ReferenceI2LMeshNet), ("fast", I2LMeshNet)):
            net = cls(reference.human_model, stage="param")
            net.load_state_dict(reference.state_dict())
            nets[name, dtype] = net.to(dtype).eval()
    out = {}
    with torch.no_grad():
        for (name, dtype), net in nets.items():
            img = inputs["img"].to(dtype)
            out[name, dtype] = net({"img": img}, {}, meta, "test")
    ref64, fast64 = out["reference", torch.float64], out["fast", torch.float64]
    assert ref64["mesh_coord_img"].dtype == torch.float64 and ref64["mesh_coord_img"].std() > 1
    for key in ("joint_coord_img", "mesh_coord_img", "mesh_coord_cam"):
        scale = ref64[key].abs().max()
        same_math = float((fast64[key] - ref64[key]).abs().max() / scale)
        assert same_math < 1e-9, (key, same_math)
        ref_err = float((out["reference", torch.float32][key].double() - ref64[key]).abs().max())
        fast_err = float((out["fast", torch.float32][key].double() - ref64[key]).abs().max())
        assert ref_err > 0 and fast_err <= 4 * ref_err + 1e-6 * float(scale), (key, fast_err, ref_err)
