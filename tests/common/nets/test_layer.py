"""The layer-stack builders (common/nets/layer.py): the layer types, hyper-parameters and indices the original's
checkpoints need (docs/network.md#layer-stacks), checked against the official key listings in tests/assets/."""
from pathlib import Path

import pytest
import torch
from torch import nn

from common.nets.layer import make_conv1d_layers, make_conv_layers, make_deconv_layers, make_linear_layers

ASSETS = Path(__file__).resolve().parents[2] / "assets"

# every head stack of the network, as the network builds it: (key prefix, builder, body dims, hand dims, options)
HEAD_STACKS = [
    ("pose_net.deconv", make_deconv_layers, [2048, 256, 256, 256], [2048, 256, 256, 256], {}),
    ("pose_net.conv_x", make_conv1d_layers, [256, 29], [256, 21], {"bnrelu_final": False}),
    ("pose_net.conv_y", make_conv1d_layers, [256, 29], [256, 21], {"bnrelu_final": False}),
    ("pose_net.conv_z_1", make_conv1d_layers, [2048, 256 * 64], [2048, 256 * 64], {}),
    ("pose_net.conv_z_2", make_conv1d_layers, [256, 29], [256, 21], {"bnrelu_final": False}),
    ("pose2feat.conv", make_conv_layers, [64 + 29 * 64, 64], [64 + 21 * 64, 64], {}),
    ("mesh_net.deconv", make_deconv_layers, [2048, 256, 256, 256], [2048, 256, 256, 256], {}),
    ("mesh_net.conv_x", make_conv1d_layers, [256, 6890], [256, 778], {"bnrelu_final": False}),
    ("mesh_net.conv_y", make_conv1d_layers, [256, 6890], [256, 778], {"bnrelu_final": False}),
    ("mesh_net.conv_z_1", make_conv1d_layers, [2048, 256 * 64], [2048, 256 * 64], {}),
    ("mesh_net.conv_z_2", make_conv1d_layers, [256, 6890], [256, 778], {"bnrelu_final": False}),
    ("param_regressor.fc", make_linear_layers, [29 * 3, 1024, 512], [21 * 3, 1024, 512], {"use_bn": True}),
    ("param_regressor.fc_pose", make_linear_layers, [512, 24 * 6], [512, 16 * 6], {"relu_final": False}),
    ("param_regressor.fc_shape", make_linear_layers, [512, 10], [512, 10], {"relu_final": False}),
]


def _official(variant: str, prefix: str) -> list[tuple[str, tuple[int, ...], str]]:
    """(key below ``prefix``, shape, dtype) of the official state dict's entries of one stack, in file order."""
    rows = []
    for line in (ASSETS / f"state_dict_{variant}_resnet50.txt").read_text().splitlines():
        key, shape, dtype = line.split()
        if key.startswith(f"module.{prefix}."):
            dims = tuple(int(d) for d in shape.strip("[]").split(",") if d)
            rows.append((key[len(f"module.{prefix}."):], dims, dtype))
    return rows


def _listing(stack: nn.Module) -> list[tuple[str, tuple[int, ...], str]]:
    return [(k, tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in stack.state_dict().items()]


def _kinds(stack: nn.Sequential) -> list[type]:
    return [type(m) for m in stack]


@pytest.mark.parametrize("variant", ["body", "hand"])
@pytest.mark.parametrize("prefix, builder, body_dims, hand_dims, options", HEAD_STACKS, ids=[s[0] for s in HEAD_STACKS])
def test_head_stacks_have_the_official_keys_shapes_and_dtypes(variant, prefix, builder, body_dims, hand_dims, options):
    with torch.device("meta"):  # shapes only, no memory for the large conv_z_1 weights
        stack = builder(body_dims if variant == "body" else hand_dims, **options)
    official = _official(variant, prefix)
    assert official  # the prefix names a stack of the listing
    assert _listing(stack) == official


def test_every_head_entry_of_the_listings_is_covered():
    for variant in ("body", "hand"):
        lines = (ASSETS / f"state_dict_{variant}_resnet50.txt").read_text().splitlines()
        heads = [line.split()[0] for line in lines if not line.startswith(("module.pose_backbone.",
                                                                             "module.mesh_backbone.",
                                                                             "module.human_model_layer."))]
        covered = [f"module.{prefix}.{key}" for prefix, *_ in HEAD_STACKS for key, _, _ in _official(variant, prefix)]
        assert sorted(covered) == sorted(heads)


def test_deconv_steps_are_4x4_stride_2_without_bias_then_batchnorm_and_relu():
    stack = make_deconv_layers([16, 8, 8])
    assert _kinds(stack) == [nn.ConvTranspose2d, nn.BatchNorm2d, nn.ReLU] * 2
    for deconv in (stack[0], stack[3]):
        assert deconv.kernel_size == (4, 4) and deconv.stride == (2, 2) and deconv.padding == (1, 1)
        assert deconv.output_padding == (0, 0) and deconv.bias is None
    assert (stack[0].in_channels, stack[0].out_channels, stack[3].in_channels, stack[3].out_channels) == (16, 8, 8, 8)
    assert stack(torch.randn(1, 16, 8, 8)).shape == (1, 8, 32, 32)  # each step doubles the spatial size
    assert _kinds(make_deconv_layers([16, 8, 4], bnrelu_final=False)) == [
        nn.ConvTranspose2d, nn.BatchNorm2d, nn.ReLU, nn.ConvTranspose2d]


def test_conv_steps_default_to_3x3_stride_1_padding_1_with_bias():
    stack = make_conv_layers([3, 4, 5])
    assert _kinds(stack) == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] * 2
    for conv in (stack[0], stack[3]):
        assert conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1)
        assert conv.bias is not None
    assert stack(torch.randn(1, 3, 7, 9)).shape == (1, 5, 7, 9)  # spatial size kept
    assert _kinds(make_conv_layers([3, 4, 5], bnrelu_final=False)) == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Conv2d]
    custom = make_conv_layers([3, 4], kernel=1, stride=2, padding=0)
    assert (custom[0].kernel_size, custom[0].stride, custom[0].padding) == ((1, 1), (2, 2), (0, 0))


def test_conv1d_steps_default_to_kernel_1_stride_1_padding_0_with_bias():
    stack = make_conv1d_layers([6, 7, 8])
    assert _kinds(stack) == [nn.Conv1d, nn.BatchNorm1d, nn.ReLU] * 2
    for conv in (stack[0], stack[3]):
        assert conv.kernel_size == (1,) and conv.stride == (1,) and conv.padding == (0,) and conv.bias is not None
    assert stack(torch.randn(2, 6, 64)).shape == (2, 8, 64)
    final = make_conv1d_layers([256, 64], bnrelu_final=False)  # a lixel output layer: one Conv1d, nothing after it
    assert _kinds(final) == [nn.Conv1d]
    assert list(final.state_dict()) == ["0.weight", "0.bias"]
    custom = make_conv1d_layers([6, 7], kernel=3, stride=1, padding=1)
    assert (custom[0].kernel_size, custom[0].stride, custom[0].padding) == ((3,), (1,), (1,))


def test_linear_steps_with_and_without_batchnorm_and_final_relu():
    assert _kinds(make_linear_layers([4, 8, 2])) == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU]
    assert _kinds(make_linear_layers([4, 8, 2], relu_final=False)) == [nn.Linear, nn.ReLU, nn.Linear]
    assert _kinds(make_linear_layers([4, 8, 2], use_bn=True)) == [nn.Linear, nn.BatchNorm1d, nn.ReLU] * 2
    assert _kinds(make_linear_layers([4, 8, 2], relu_final=False, use_bn=True)) == [
        nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    stack = make_linear_layers([4, 8, 2], use_bn=True)
    assert all(m.bias is not None for m in stack if isinstance(m, nn.Linear))
    assert stack.eval()(torch.randn(3, 4)).shape == (3, 2)


def test_small_stack_state_dict_keys_and_shapes():
    """A BatchNorm + ReLU step takes three indices, so the keys skip the ReLU's index."""
    assert _listing(make_conv_layers([3, 4, 5], bnrelu_final=False)) == [
        ("0.weight", (4, 3, 3, 3), "float32"), ("0.bias", (4,), "float32"),
        ("1.weight", (4,), "float32"), ("1.bias", (4,), "float32"), ("1.running_mean", (4,), "float32"),
        ("1.running_var", (4,), "float32"), ("1.num_batches_tracked", (), "int64"),
        ("3.weight", (5, 4, 3, 3), "float32"), ("3.bias", (5,), "float32"),
    ]
    assert _listing(make_deconv_layers([6, 2])) == [
        ("0.weight", (6, 2, 4, 4), "float32"),
        ("1.weight", (2,), "float32"), ("1.bias", (2,), "float32"), ("1.running_mean", (2,), "float32"),
        ("1.running_var", (2,), "float32"), ("1.num_batches_tracked", (), "int64"),
    ]


@pytest.mark.parametrize("stack", [make_deconv_layers([4, 4, 4]), make_conv_layers([4, 4, 4]),
                                   make_conv1d_layers([4, 4, 4]), make_linear_layers([4, 4, 4], use_bn=True)],
                         ids=["deconv", "conv", "conv1d", "linear"])
def test_batchnorms_use_pytorch_defaults_and_relus_are_in_place(stack):
    bns = [m for m in stack if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    relus = [m for m in stack if isinstance(m, nn.ReLU)]
    assert len(bns) == len(relus) == 2
    assert all(bn.eps == 1e-5 and bn.momentum == 0.1 and bn.affine and bn.track_running_stats for bn in bns)
    assert all(relu.inplace for relu in relus)
