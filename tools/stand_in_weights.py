"""Seeded stand-ins for trained weights and batches, for precision comparisons in tests and the benchmark.

Random networks amplify float rounding by orders of magnitude; :func:`conditioned_init` gives weights whose outputs
depend on the image and whose rounding sensitivity is close to a trained network's (docs/network.md).
"""
from __future__ import annotations

import torch
from torch import nn


def random_batch(human_model, batch: int, seed: int = 0,
                 device: torch.device | str = "cpu") -> tuple[dict, dict, dict]:
    """Seeded random (inputs, targets, meta_info) with the shapes and dtypes of a collated training batch
    (``is_valid_fit`` / ``is_3D`` float64, as the default collation makes Python floats)."""
    g = torch.Generator().manual_seed(seed)
    j, v, k3 = human_model.joint_num, human_model.vertex_num, human_model.orig_joint_num * 3
    inputs = {"img": torch.rand(batch, 3, 256, 256, generator=g)}
    targets = {"orig_joint_img": torch.rand(batch, j, 3, generator=g) * 64,
               "fit_joint_img": torch.rand(batch, j, 3, generator=g) * 64,
               "fit_mesh_img": torch.rand(batch, v, 3, generator=g) * 64,
               "orig_joint_cam": torch.randn(batch, j, 3, generator=g) * 0.3,
               "fit_joint_cam": torch.randn(batch, j, 3, generator=g) * 0.3,
               "pose_param": torch.randn(batch, k3, generator=g) * 0.2,
               "shape_param": torch.randn(batch, 10, generator=g)}
    meta = {"orig_joint_valid": torch.ones(batch, j, 1), "orig_joint_trunc": torch.ones(batch, j, 1),
            "fit_joint_trunc": torch.ones(batch, j, 1), "fit_mesh_trunc": torch.ones(batch, v, 1),
            "is_valid_fit": torch.ones(batch, dtype=torch.float64), "is_3D": torch.ones(batch, dtype=torch.float64)}
    move = lambda d: {k: t.to(device) for k, t in d.items()}  # noqa: E731
    return move(inputs), move(targets), move(meta)


def diverse_images(n: int, seed: int) -> torch.Tensor:
    """(n, 3, 256, 256) seeded images in [0, 1] that differ in brightness, contrast and gradient per sample."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(n, 3, 256, 256, generator=g)
    ramp = torch.linspace(0, 1, 256)[None, None, :, None] * torch.rand(n, 1, 1, 1, generator=g)
    scale = torch.rand(n, 3, 1, 1, generator=g)
    offset = torch.rand(n, 3, 1, 1, generator=g) * (1 - scale)
    return (offset + scale * (0.5 * noise + 0.5 * ramp)).clamp(0, 1)


def conditioned_init(net: nn.Module, seed: int = 0, residual_gain: float = 0.2, calibration_size: int = 4) -> None:
    """Seeded weights that behave like a working network, for precision comparisons; leaves ``net`` in eval mode.

    The original's random initialisation, the last BatchNorm scale of every residual branch set to
    ``residual_gain`` and every BatchNorm's running statistics set to those of one fp32 lixel pass (in ``net``'s own
    operation order) over :func:`diverse_images`.  (A deep BatchNorm network at random initialisation amplifies
    rounding errors far more than a trained one; the damped residual branches bring that sensitivity down to a
    trained network's.)
    """
    torch.manual_seed(seed)
    net.init_weights(random_init=True)
    for trunk in (net.pose_backbone, net.mesh_backbone):
        for name, m in trunk.named_modules():
            if name.endswith("bn3"):
                nn.init.constant_(m.weight, residual_gain)
    batchnorms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in batchnorms]
    for m in batchnorms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: after one pass, the statistics of that batch
    try:
        net.train()
        with torch.no_grad():
            net.forward_lixel(diverse_images(calibration_size, seed + 1))
    finally:
        for m, momentum in zip(batchnorms, momenta):
            m.momentum = momentum
    net.eval()
