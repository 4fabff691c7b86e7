"""I2L-MeshNet heads as the drivers run them: lixel heads (PoseNet / MeshNet), Pose2Feat and ParamRegressor.

The original's operation order for the same parameters is in ``main/reference.py`` (docs/network.md)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.nets.layer import make_conv1d_layers, make_conv_layers, make_deconv_layers, make_linear_layers
from common.nets.precision import fp32_region, widen
from common.nets.recompute import run_checkpointed
from common.utils.rotation import rot6d_to_rotmat, rotmat_to_axis_angle


def soft_argmax_1d(logits: torch.Tensor) -> torch.Tensor:
    """(B, N, L) logits -> (B, N) float32 expected bin index sum_i softmax_i * i, in [0, L-1].

    Computed in float32 whatever the autocast dtype of the logits.
    """
    with fp32_region(logits):
        prob = torch.softmax(widen(logits), dim=2)
        bins = torch.arange(logits.shape[2], dtype=prob.dtype, device=prob.device)
        return (prob * bins).sum(dim=2)


class LixelHead(nn.Module):
    """1D ("lixel") heat-map head for ``num_points`` points: PoseNet (joints) and MeshNet (vertices).

    Input: trunk output (B, 2048, 8, 8).  Output: (B, num_points, 3) coordinates in hm units (x, y, z in [0, 63]).
    """

    def __init__(self, num_points: int, depth_dim: int = 64, recompute: bool = False) -> None:
        super().__init__()
        self.num_points = num_points
        # training: recompute the deconvolution stack's activations and each axis's logits in the backward pass
        # instead of storing them (less memory, the same gradients)
        self.recompute = recompute
        self.depth_dim = depth_dim
        self.deconv = make_deconv_layers([2048, 256, 256, 256])
        self.conv_x = make_conv1d_layers([256, num_points], bnrelu_final=False)
        self.conv_y = make_conv1d_layers([256, num_points], bnrelu_final=False)
        self.conv_z_1 = make_conv1d_layers([2048, 256 * depth_dim])
        self.conv_z_2 = make_conv1d_layers([256, num_points], bnrelu_final=False)

    def forward(self, img_feat: torch.Tensor, points: torch.Tensor | None = None) -> torch.Tensor:
        """``points`` (P,) int64: compute only these points (rows of the last 1x1 convs) -> (B, P, 3).

        Each point's coordinates depend only on its own rows, so a subset equals the same rows of the full output.
        The axis means are products with a ones vector and the z branch's 1x1 conv on a length-1 sequence is a
        linear layer: the original's computation (``main/reference.py``) with faster kernels, equal to float
        rounding.  Under autocast everything after the deconvolution stack runs in float32.
        """
        if self.recompute:
            feat_xy = run_checkpointed(self.deconv, self.deconv, img_feat)
        else:
            feat_xy = self.deconv(img_feat)  # (B, 256, 64, 64)
        with fp32_region(img_feat):
            # float32 from here on whatever the autocast dtype: logits rounded to bf16 move the soft-argmax
            # coordinates by a sizeable fraction of a heat-map bin
            feat_x, feat_y = _axis_means(feat_xy)
            # a (B, 2048) x (2048, 16384) product bound by reading its weight: float32 costs less than casting the
            # weight to the autocast dtype, and is exact
            feat_z = widen(img_feat).mean(dim=(2, 3))  # (B, 2048)
            conv, bn_relu = self.conv_z_1[0], self.conv_z_1[1:]
            feat_z = bn_relu(F.linear(feat_z, widen(conv.weight.flatten(1)), widen(conv.bias)))
            feat_z = feat_z.view(-1, 256, self.depth_dim)  # channel c -> (c // 64, c % 64)
            # recompute: keep the (B, 256, 64) features, not the (B, N, 64) softmax of each axis
            coords = [run_checkpointed(conv, _axis_coords, conv, feat, points) if self.recompute
                      else _axis_coords(conv, feat, points)
                      for conv, feat in ((self.conv_x, feat_x), (self.conv_y, feat_y), (self.conv_z_2, feat_z))]
            return torch.stack(coords, dim=2)


class _AxisMeans(torch.autograd.Function):
    """(B, C, H, W) any float dtype -> float32 (float64 for float64 input): (mean over H (B, C, W), mean over W
    (B, C, H)).

    The means are matrix products with a ones vector on a float32 copy of one sample at a time: much faster than
    ``mean`` on channels-last tensors, and exact float32 sums of bf16/fp16 activations.  Nothing
    is saved for the backward pass (the gradient of a mean needs only the shape); the input gradient comes back in
    the input's dtype, channels-last.
    """

    @staticmethod
    def forward(ctx, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.in_dtype = feat.dtype
        b, c, h, w = feat.shape
        nhwc = feat.permute(0, 2, 3, 1)  # a view for a channels-last tensor
        acc = dict(dtype=torch.float64 if feat.dtype == torch.float64 else torch.float32, device=feat.device)
        mean_h = torch.empty(b, w, c, **acc)
        mean_w = torch.empty(b, h, c, **acc)
        ones_h = torch.full((1, h), 1.0 / h, **acc)
        ones_w = torch.full((1, w), 1.0 / w, **acc)
        with fp32_region(feat):
            for i in range(b):  # one sample at a time: the float32 copy is (H, W, C), not (B, H, W, C)
                sample = widen(nhwc[i]).contiguous()
                mean_h[i] = torch.mm(ones_h, sample.reshape(h, w * c)).reshape(w, c)
                mean_w[i] = torch.matmul(ones_w, sample).reshape(h, c)
        return mean_h.transpose(1, 2), mean_w.transpose(1, 2)

    @staticmethod
    def backward(ctx, grad_h: torch.Tensor, grad_w: torch.Tensor) -> torch.Tensor:
        # d mean_h[b, c, x] / d feat[b, c, y, x] = 1 / H, d mean_w[b, c, y] / d feat[b, c, y, x] = 1 / W
        b, c, w = grad_h.shape
        h = grad_w.shape[2]
        grad = torch.empty(b, h, w, c, dtype=ctx.in_dtype, device=grad_h.device)
        # summed in float32, written once in the input dtype
        torch.add((grad_h / h).transpose(1, 2)[:, None], (grad_w / w).transpose(1, 2)[:, :, None], out=grad)
        return grad.permute(0, 3, 1, 2)  # (B, C, H, W), channels-last


def _axis_means(feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C, H, W) -> float32 (mean over H (B, C, W), mean over W (B, C, H)); see :class:`_AxisMeans`."""
    return _AxisMeans.apply(feat)


def _axis_coords(conv: nn.Sequential, feat: torch.Tensor, points: torch.Tensor | None) -> torch.Tensor:
    """One axis of a lixel head: features (B, 256, 64) -> logits (B, N, 64) -> coordinates (B, N), hm units."""
    return soft_argmax_1d(_final_conv(conv, feat, points))


def _final_conv(conv: nn.Sequential, feat: torch.Tensor, points: torch.Tensor | None) -> torch.Tensor:
    """The single 1x1 Conv1d of ``make_conv1d_layers([256, N], bnrelu_final=False)``, optionally on rows ``points``."""
    if points is None:
        return conv(feat)
    layer = conv[0]
    return F.conv1d(feat, layer.weight[points], layer.bias[points])


class Pose2Feat(nn.Module):
    """Fuse early image features (B, 64, 64, 64) with joint heat-maps (B, J, 64, 64, 64) -> (B, 64, 64, 64).

    The heat map of joint j is a 3D Gaussian of ``sigma`` hm units at its coordinates; its J x 64 depth slices are
    the input channels 64 + j * 64 + z of one 3x3 convolution (the layout of the official weights).
    """

    def __init__(self, joint_num: int, depth_dim: int = 64) -> None:
        super().__init__()
        self.joint_num = joint_num
        self.depth_dim = depth_dim
        self.conv = make_conv_layers([64 + joint_num * depth_dim, 64])

    def forward(self, img_feat: torch.Tensor, joint_coord: torch.Tensor, sigma: float) -> torch.Tensor:
        """The convolution of the features concatenated with the joints' 3D Gaussian heat maps (the original's
        computation, ``main/reference.py``), to float rounding, without forming the heat maps.

        The heat-map of joint j is gz_j(z) gy_j(y) gx_j(x), so its part of the 3x3 convolution,
        sum_{j,z,dy,dx} W[o, j, z, dy, dx] gz_j(z) gy_j(y+dy-1) gx_j(x+dx-1) (zero outside the grid), is contracted
        one axis at a time (z, then y, then x): about 50 MFLOP per sample instead of 9 GFLOP, and the (B, J*D, H, W)
        heat-map is never formed.  ``joint_coord`` (B, J, 3) hm units, treated as a constant (no gradient).
        """
        conv, bn_relu = self.conv[0], self.conv[1:]
        b, _, h, w = img_feat.shape
        j = joint_coord.shape[1]
        weight_img, weight_hm = torch.split(conv.weight, [64, conv.weight.shape[1] - 64], dim=1)
        out_img = F.conv2d(img_feat, weight_img, conv.bias, padding=1)  # (B, O, H, W)
        with fp32_region(img_feat):
            coord = widen(joint_coord.detach())
            o = conv.weight.shape[0]
            weight = widen(weight_hm).reshape(o, j, -1, 3, 3)  # (O, J, D, dy, dx)
            d = weight.shape[2]
            gz = gaussian_1d(coord[..., 2], d, sigma, 0)  # (B, J, D)
            gy = torch.stack([gaussian_1d(coord[..., 1], h, sigma, dy - 1) for dy in range(3)], dim=2)  # (B,J,3,H)
            gx = torch.stack([gaussian_1d(coord[..., 0], w, sigma, dx - 1) for dx in range(3)], dim=2)  # (B,J,3,W)
            # z: (J, B, D) @ (J, D, O*9) -> (B, J, O, dy, dx)
            a = torch.bmm(gz.transpose(0, 1), weight.permute(1, 2, 0, 3, 4).reshape(j, d, o * 9))
            a = a.reshape(j, b, o, 3, 3).permute(1, 0, 2, 3, 4)
            # y: sum_dy a[b, j, o, dy, dx] gy[b, j, dy, y] -> (B, H, J, dx, O)
            c = torch.einsum("bjoyx,bjyh->bhjxo", a, gy)
            # x: (B, 1, W, J*3) @ (B, H, J*3, O) -> (B, H, W, O), i.e. channels-last (B, O, H, W)
            gx_t = gx.permute(0, 3, 1, 2).reshape(b, 1, w, j * 3)
            out_hm = torch.matmul(gx_t, c.reshape(b, h, j * 3, o)).permute(0, 3, 1, 2)
            out = widen(out_img) + out_hm
        return bn_relu(out.to(out_img.dtype))


class ParamRegressor(nn.Module):
    """Joints in hm units (B, J, 3) -> pose (B, 3K) axis-angle and shape (B, 10) ."""

    def __init__(self, joint_num: int, pose_joint_num: int) -> None:
        super().__init__()
        self.pose_joint_num = pose_joint_num
        self.fc = make_linear_layers([joint_num * 3, 1024, 512], use_bn=True)
        self.fc_pose = make_linear_layers([512, pose_joint_num * 6], relu_final=False)
        self.fc_shape = make_linear_layers([512, 10], relu_final=False)

    def forward(self, joint_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = joint_img.shape[0]
        feat = self.fc(joint_img.reshape(batch, -1))  # raw hm units: the released weights expect them
        rotmat = rot6d_to_rotmat(self.fc_pose(feat).reshape(batch * self.pose_joint_num, 6))
        pose = rotmat_to_axis_angle(rotmat).reshape(batch, self.pose_joint_num * 3)
        shape = self.fc_shape(feat)
        return pose, shape


def gaussian_1d(center: torch.Tensor, length: int, sigma: float, offset: int) -> torch.Tensor:
    """exp(-((p - center) / sigma)^2 / 2) at p = i + offset for i in 0..length-1, and 0 where p is off the grid.

    ``center`` (...,) hm units -> (..., length).  The on-grid values equal the factors of the original's 3D heat map.
    """
    pos = torch.arange(offset, length + offset, dtype=center.dtype, device=center.device)
    g = torch.exp(-0.5 * ((pos - center[..., None]) / sigma) ** 2)
    on_grid = (pos >= 0) & (pos <= length - 1)
    return g * on_grid.to(g.dtype)


def init_head_weights(module: nn.Module) -> None:
    """The original's training init for the heads, by exact type; Conv1d/BatchNorm1d keep PyTorch defaults.

    Kept for training parity: docs/quirks.md#q-1d-layers-default-init."""
    if type(module) is nn.ConvTranspose2d:
        nn.init.normal_(module.weight, std=0.001)
    elif type(module) is nn.Conv2d:
        nn.init.normal_(module.weight, std=0.001)
        nn.init.constant_(module.bias, 0)
    elif type(module) is nn.BatchNorm2d:
        nn.init.constant_(module.weight, 1)
        nn.init.constant_(module.bias, 0)
    elif type(module) is nn.Linear:
        nn.init.normal_(module.weight, std=0.01)
        nn.init.constant_(module.bias, 0)
