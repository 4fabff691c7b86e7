"""Rotation conversions used by the ParamRegressor (torch, batched, differentiable).

* :func:`rot6d_to_rotmat`: the original's 6D layout, baked into the released ParamRegressor weights
  (docs/quirks.md#q-row-major-6d): the six numbers (v0..v5) of a joint form the
  row-major 3x2 matrix [[v0, v1], [v2, v3], [v4, v5]]; its two columns are Gram-Schmidt orthonormalised
  (``roma.special_gramschmidt`` with the original's norm clamp max(|v|, 1e-12)).
* :func:`rotmat_to_axis_angle`: the quaternion-branch algorithm of torchgeometry 0.1.2 (same branches and rounding
  as the original), written without boolean-mask arithmetic so it runs on current PyTorch
  (docs/conventions.md#axis-angle, docs/quirks.md#q-torchgeometry-axis-angle).
"""
from __future__ import annotations

import roma
import torch


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """(..., 6) 6D rotation in the original's row-major 3x2 layout -> (..., 3, 3) rotation matrices."""
    return roma.special_gramschmidt(x.reshape(*x.shape[:-1], 3, 2), epsilon=1e-12)


def rotmat_to_quaternion(rotmat: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """(N, 3, 3) rotation matrices -> (N, 4) quaternions (w, x, y, z), torchgeometry 0.1.2's branch choice."""
    m = rotmat.transpose(1, 2)
    m00, m01, m02 = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2]
    m10, m11, m12 = m[:, 1, 0], m[:, 1, 1], m[:, 1, 2]
    m20, m21, m22 = m[:, 2, 0], m[:, 2, 1], m[:, 2, 2]

    t0 = 1 + m00 - m11 - m22
    q0 = torch.stack([m12 - m21, t0, m01 + m10, m20 + m02], dim=-1)
    t1 = 1 - m00 + m11 - m22
    q1 = torch.stack([m20 - m02, m01 + m10, t1, m12 + m21], dim=-1)
    t2 = 1 - m00 - m11 + m22
    q2 = torch.stack([m01 - m10, m20 + m02, m12 + m21, t2], dim=-1)
    t3 = 1 + m00 + m11 + m22
    q3 = torch.stack([t3, m12 - m21, m20 - m02, m01 - m10], dim=-1)

    z_small = m22 < eps
    case0 = z_small & (m00 > m11)
    case1 = z_small & ~(m00 > m11)
    case2 = ~z_small & (m00 < -m11)
    case3 = ~z_small & ~(m00 < -m11)

    c0, c1, c2, c3 = (c.unsqueeze(-1).to(rotmat.dtype) for c in (case0, case1, case2, case3))
    q = q0 * c0 + q1 * c1 + q2 * c2 + q3 * c3
    t = t0 * c0.squeeze(-1) + t1 * c1.squeeze(-1) + t2 * c2.squeeze(-1) + t3 * c3.squeeze(-1)
    return q * 0.5 / torch.sqrt(t).unsqueeze(-1)


def quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """(N, 4) quaternions (w, x, y, z) -> (N, 3) axis-angle (torchgeometry 0.1.2 semantics)."""
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    sin_sq = x * x + y * y + z * z
    nonzero = sin_sq > 0.0
    # sqrt/division only where sin_sq > 0, so the unused branch cannot put NaN into the gradient
    sin_theta = torch.sqrt(torch.where(nonzero, sin_sq, torch.ones_like(sin_sq)))
    two_theta = 2.0 * torch.where(w < 0.0, torch.atan2(-sin_theta, -w), torch.atan2(sin_theta, w))
    k = torch.where(nonzero, two_theta / sin_theta, torch.full_like(sin_theta, 2.0))
    return torch.stack([x * k, y * k, z * k], dim=-1)


def rotmat_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle (radians), torchgeometry 0.1.2's algorithm."""
    flat = rotmat.reshape(-1, 3, 3)
    aa = quaternion_to_axis_angle(rotmat_to_quaternion(flat))
    return aa.reshape(*rotmat.shape[:-2], 3)
