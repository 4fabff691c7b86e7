"""I2L-MeshNet heads: lixel heads (PoseNet / MeshNet), Pose2Feat and ParamRegressor (architecture.md §3, §5)."""
from __future__ import annotations

import torch
from torch import nn

from common.nets.layer import make_conv1d_layers, make_conv_layers, make_deconv_layers, make_linear_layers
from common.utils.rotation import rot6d_to_rotmat, rotmat_to_axis_angle


def soft_argmax_1d(logits: torch.Tensor) -> torch.Tensor:
    """(B, N, L) logits -> (B, N) expected bin index sum_i softmax_i * i, in [0, L-1]."""
    prob = torch.softmax(logits, dim=2)
    bins = torch.arange(logits.shape[2], dtype=prob.dtype, device=prob.device)
    return (prob * bins).sum(dim=2)


class LixelHead(nn.Module):
    """1D ("lixel") heat-map head for ``num_points`` points: PoseNet (joints) and MeshNet (vertices).

    Input: trunk output (B, 2048, 8, 8).  Output: (B, num_points, 3) coordinates in hm units (x, y, z in [0, 63]).
    """

    def __init__(self, num_points: int, depth_dim: int = 64) -> None:
        super().__init__()
        self.num_points = num_points
        self.depth_dim = depth_dim
        self.deconv = make_deconv_layers([2048, 256, 256, 256])
        self.conv_x = make_conv1d_layers([256, num_points], bnrelu_final=False)
        self.conv_y = make_conv1d_layers([256, num_points], bnrelu_final=False)
        self.conv_z_1 = make_conv1d_layers([2048, 256 * depth_dim])
        self.conv_z_2 = make_conv1d_layers([256, num_points], bnrelu_final=False)

    def forward(self, img_feat: torch.Tensor) -> torch.Tensor:
        feat_xy = self.deconv(img_feat)  # (B, 256, 64, 64)
        coord_x = soft_argmax_1d(self.conv_x(feat_xy.mean(dim=2)))  # average over rows -> per column
        coord_y = soft_argmax_1d(self.conv_y(feat_xy.mean(dim=3)))  # average over columns -> per row
        feat_z = img_feat.mean(dim=(2, 3))[:, :, None]  # (B, 2048, 1)
        feat_z = self.conv_z_1(feat_z).view(-1, 256, self.depth_dim)  # channel c -> (c // 64, c % 64)
        coord_z = soft_argmax_1d(self.conv_z_2(feat_z))
        return torch.stack([coord_x, coord_y, coord_z], dim=2)


PoseNet = LixelHead
MeshNet = LixelHead


class Pose2Feat(nn.Module):
    """Fuse early image features (B, 64, 64, 64) with joint heat-maps (B, J, 64, 64, 64) -> (B, 64, 64, 64)."""

    def __init__(self, joint_num: int, depth_dim: int = 64) -> None:
        super().__init__()
        self.joint_num = joint_num
        self.conv = make_conv_layers([64 + joint_num * depth_dim, 64])

    def forward(self, img_feat: torch.Tensor, joint_heatmap: torch.Tensor) -> torch.Tensor:
        b, j, d, h, w = joint_heatmap.shape
        heatmap = joint_heatmap.reshape(b, j * d, h, w)  # channel j * 64 + z
        return self.conv(torch.cat([img_feat, heatmap], dim=1))


class ParamRegressor(nn.Module):
    """Joints in hm units (B, J, 3) -> pose (B, 3K) axis-angle and shape (B, 10) (architecture.md §5.5)."""

    def __init__(self, joint_num: int, pose_joint_num: int) -> None:
        super().__init__()
        self.pose_joint_num = pose_joint_num
        self.fc = make_linear_layers([joint_num * 3, 1024, 512], use_bn=True)
        self.fc_pose = make_linear_layers([512, pose_joint_num * 6], relu_final=False)
        self.fc_shape = make_linear_layers([512, 10], relu_final=False)

    def forward(self, joint_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = joint_img.shape[0]
        feat = self.fc(joint_img.reshape(batch, -1))  # raw hm units, no normalisation (Q8)
        rotmat = rot6d_to_rotmat(self.fc_pose(feat).reshape(batch * self.pose_joint_num, 6))
        pose = rotmat_to_axis_angle(rotmat).reshape(batch, self.pose_joint_num * 3)
        shape = self.fc_shape(feat)
        return pose, shape


def gaussian_heatmap_3d(coord: torch.Tensor, shape: tuple[int, int, int], sigma: float) -> torch.Tensor:
    """Unnormalised 3D Gaussians at ``coord`` (B, J, 3) (x, y, z hm units) -> (B, J, D, H, W), peak 1.

    H[b, j, z, y, x] = exp(-((x-x_j)^2 + (y-y_j)^2 + (z-z_j)^2) / (2 sigma^2)), evaluated as a product of three
    1D Gaussians (equal to the joint exponential up to float rounding, ~1e-7 relative).
    """
    d, h, w = shape
    dtype, device = coord.dtype, coord.device
    gx = torch.exp(-0.5 * ((torch.arange(w, dtype=dtype, device=device) - coord[..., 0:1]) / sigma) ** 2)
    gy = torch.exp(-0.5 * ((torch.arange(h, dtype=dtype, device=device) - coord[..., 1:2]) / sigma) ** 2)
    gz = torch.exp(-0.5 * ((torch.arange(d, dtype=dtype, device=device) - coord[..., 2:3]) / sigma) ** 2)
    return gz[..., :, None, None] * gy[..., None, :, None] * gx[..., None, None, :]


def init_head_weights(module: nn.Module) -> None:
    """The original's training init for the heads, by exact type; Conv1d/BatchNorm1d keep PyTorch defaults (Q7)."""
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
