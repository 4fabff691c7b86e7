"""The original's operation order, kept as the reference implementation of the network.

:class:`ReferenceI2LMeshNet` has the parameters, buffers and state-dict keys of :class:`main.model.I2LMeshNet` and
computes the same functions in the original release's order: contiguous (NCHW) activations, axis means with
``mean``, the z branch as a 1x1 ``Conv1d``, Pose2Feat on the concatenated (B, J*64, 64, 64) heat maps, every vertex
and the joint regression always computed.  The drivers run the fast path; this one runs with ``--exact``
(test.py, demo.py: BatchNorm left unfolded, float32), in the exactness tests and as the benchmark's ``plain_fp32``.
How the two differ and how their agreement is judged: docs/network.md.
"""
from __future__ import annotations

import torch

from common.nets.module import LixelHead, Pose2Feat, _final_conv, soft_argmax_1d
from common.nets.precision import fp32_region, widen
from main.model import I2LMeshNet


def gaussian_heatmap_3d(coord: torch.Tensor, shape: tuple[int, int, int], sigma: float) -> torch.Tensor:
    """Unnormalised 3D Gaussians at ``coord`` (B, J, 3) (x, y, z hm units) -> (B, J, D, H, W), peak 1.

    H[b, j, z, y, x] = exp(-((x - x_j) / sigma)^2 / 2 - ((y - y_j) / sigma)^2 / 2 - ((z - z_j) / sigma)^2 / 2) on the
    integer grid, in this order of operations.
    """
    d, h, w = shape
    dtype, device = coord.dtype, coord.device
    x = coord[..., 0, None, None, None]  # (B, J, 1, 1, 1)
    y = coord[..., 1, None, None, None]
    z = coord[..., 2, None, None, None]
    xx = torch.arange(w, dtype=dtype, device=device).view(1, 1, 1, 1, w)
    yy = torch.arange(h, dtype=dtype, device=device).view(1, 1, 1, h, 1)
    zz = torch.arange(d, dtype=dtype, device=device).view(1, 1, d, 1, 1)
    return torch.exp(-(((xx - x) / sigma) ** 2) / 2 - (((yy - y) / sigma) ** 2) / 2 - (((zz - z) / sigma) ** 2) / 2)


class ReferenceLixelHead(LixelHead):
    """:class:`LixelHead` computed as the original: ``mean`` over each axis, the z branch as a Conv1d on a length-1
    sequence, every point.  ``points`` selects rows of the full output."""

    def forward(self, img_feat: torch.Tensor, points: torch.Tensor | None = None) -> torch.Tensor:
        feat_xy = self.deconv(img_feat)  # (B, 256, 64, 64)
        with fp32_region(img_feat):
            feat_xy = widen(feat_xy)
            feat_x = feat_xy.mean(dim=2)  # average over rows -> per column (B, 256, 64)
            feat_y = feat_xy.mean(dim=3)  # average over columns -> per row (B, 256, 64)
            feat_z = self.conv_z_1(widen(img_feat).mean(dim=(2, 3))[:, :, None])  # (B, 256 * D, 1)
            feat_z = feat_z.view(-1, 256, self.depth_dim)  # channel c -> (c // 64, c % 64)
            coords = torch.stack([soft_argmax_1d(_final_conv(conv, feat, None))
                                  for conv, feat in ((self.conv_x, feat_x), (self.conv_y, feat_y),
                                                     (self.conv_z_2, feat_z))], dim=2)
        return coords if points is None else coords[:, points]


class ReferencePose2Feat(Pose2Feat):
    """:class:`Pose2Feat` computed as the original: the joints' 3D heat maps are formed (without gradient) and
    concatenated to the features as J x D channels before the convolution."""

    def forward(self, img_feat: torch.Tensor, joint_coord: torch.Tensor, sigma: float) -> torch.Tensor:
        with torch.no_grad():
            heatmap = gaussian_heatmap_3d(widen(joint_coord.detach()), (self.depth_dim, *img_feat.shape[2:]), sigma)
        b, j, d, h, w = heatmap.shape
        heatmap = heatmap.reshape(b, j * d, h, w).to(img_feat.dtype)  # channel j * 64 + z
        return self.conv(torch.cat([img_feat, heatmap], dim=1))


class ReferenceI2LMeshNet(I2LMeshNet):
    """:class:`I2LMeshNet` with the original's operation order: the same parameters and outputs, other rounding."""

    lixel_head_cls = ReferenceLixelHead
    pose2feat_cls = ReferencePose2Feat
    channels_last = False

    def __init__(self, *args, recompute: bool = False, **kwargs) -> None:
        if recompute:
            raise ValueError("recompute: activation recomputation belongs to the fast path (main.model.I2LMeshNet)")
        super().__init__(*args, **kwargs)

    def forward_lixel(self, img: torch.Tensor, regress: bool = True,
                      joints_only: bool = False) -> dict[str, torch.Tensor]:
        """Every output, whatever ``regress`` / ``joints_only`` ask for, as the original computes them."""
        shared_img_feat, pose_img_feat = self.pose_backbone(img, skip_early=False)
        joint_coord_img = self.pose_net(pose_img_feat)
        shared_img_feat = self.pose2feat(shared_img_feat, joint_coord_img, self.sigma)
        _, mesh_img_feat = self.mesh_backbone(shared_img_feat, skip_early=True)
        mesh_coord_img = self.mesh_net(mesh_img_feat)
        return {"joint_coord_img": joint_coord_img, "mesh_coord_img": mesh_coord_img,
                "joint_img_from_mesh": self.regress_joints(mesh_coord_img)}
