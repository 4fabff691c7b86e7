"""Element-wise L1 losses of I2L-MeshNet (docs/network.md#losses).

Every loss returns an *unreduced*, mask-multiplied tensor; the trainer takes ``.mean()`` over all elements, masked
ones included, for training parity (docs/quirks.md#q-loss-mean-counts-masked), and sums the means.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class CoordLoss(nn.Module):
    """|out - gt| * valid, (B, N, 3); valid (B, N, 1).  With ``is_3d`` (B,), the z column is also * is_3d."""

    def forward(self, coord_out: torch.Tensor, coord_gt: torch.Tensor, valid: torch.Tensor,
                is_3d: torch.Tensor | None = None) -> torch.Tensor:
        loss = torch.abs(coord_out - coord_gt) * valid
        if is_3d is not None:
            loss_z = loss[:, :, 2:] * is_3d[:, None, None]
            loss = torch.cat([loss[:, :, :2], loss_z], dim=2)
        return loss


class ParamLoss(nn.Module):
    """|out - gt| * valid, (B, P); valid (B, 1)."""

    def forward(self, param_out: torch.Tensor, param_gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return torch.abs(param_out - param_gt) * valid


class _FaceLoss(nn.Module):
    def __init__(self, face: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("face", torch.as_tensor(np.asarray(face, dtype=np.int64)), persistent=False)

    def _corners(self, coord: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return coord[:, self.face[:, 0]], coord[:, self.face[:, 1]], coord[:, self.face[:, 2]]


class NormalVectorLoss(_FaceLoss):
    """Predicted edges orthogonal to the GT face normal: (B, 3F, 1), order [edge 1 of all faces, edge 2, edge 3].

    Edges e1 = v1 - v0, e2 = v2 - v0, e3 = v2 - v1 (L2-normalised, eps 1e-12); GT normal
    n(n(g1 - g0) x n(g2 - g0)); face mask = valid_0 * valid_1 * valid_2.
    """

    def forward(self, coord_out: torch.Tensor, coord_gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        o0, o1, o2 = self._corners(coord_out)
        g0, g1, g2 = self._corners(coord_gt)
        v0, v1, v2 = self._corners(valid)
        e1 = F.normalize(o1 - o0, p=2, dim=2)
        e2 = F.normalize(o2 - o0, p=2, dim=2)
        e3 = F.normalize(o2 - o1, p=2, dim=2)
        normal_gt = F.normalize(
            torch.cross(F.normalize(g1 - g0, p=2, dim=2), F.normalize(g2 - g0, p=2, dim=2), dim=2), p=2, dim=2)
        mask = v0 * v1 * v2
        terms = [torch.abs((e * normal_gt).sum(dim=2, keepdim=True)) * mask for e in (e1, e2, e3)]
        return torch.cat(terms, dim=1)


class EdgeLengthLoss(_FaceLoss):
    """|edge length out - edge length gt| per face edge: (B, 3F, 1), edges (0,1), (0,2), (1,2) with pair masks."""

    def forward(self, coord_out: torch.Tensor, coord_gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        o0, o1, o2 = self._corners(coord_out)
        g0, g1, g2 = self._corners(coord_gt)
        v0, v1, v2 = self._corners(valid)
        terms = []
        for (oa, ob), (ga, gb), mask in (((o0, o1), (g0, g1), v0 * v1), ((o0, o2), (g0, g2), v0 * v2),
                                          ((o1, o2), (g1, g2), v1 * v2)):
            d_out = torch.linalg.vector_norm(oa - ob, dim=2, keepdim=True)
            d_gt = torch.linalg.vector_norm(ga - gb, dim=2, keepdim=True)
            terms.append(torch.abs(d_out - d_gt) * mask)
        return torch.cat(terms, dim=1)
