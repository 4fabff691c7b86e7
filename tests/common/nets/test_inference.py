"""BatchNorm folding for test-only networks (common/nets/inference.py): the folded network computes what the eval-mode
network computed, with no BatchNorm left."""
import torch
from torch import nn

from common.nets.inference import fold_batchnorm
from common.nets.resnet import ResNetBackbone


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def test_fold_batchnorm_keeps_eval_outputs():
    torch.manual_seed(0)
    modules = nn.ModuleList([
        nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU()),
        nn.Sequential(nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False), nn.BatchNorm2d(8)),
        nn.Sequential(nn.Conv1d(8, 12, 1), nn.BatchNorm1d(12)),
    ])
    trunk = ResNetBackbone(50)
    for m in list(modules.modules()) + list(trunk.modules()):
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            for t in (m.weight, m.bias, m.running_mean):
                t.data.normal_()
            m.running_var.data.uniform_(0.5, 2.0)
    modules.eval()
    trunk.eval()
    x = torch.randn(2, 8, 8, 8)
    img = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        want = [modules[1](modules[0](x)), modules[2](x.mean(dim=3))]
        want_trunk = trunk(img)
        assert fold_batchnorm(modules) == 3
        assert fold_batchnorm(trunk) == 53  # stem + 16 blocks x 3 + 4 projections
        got = [modules[1](modules[0](x)), modules[2](x.mean(dim=3))]
        got_trunk = trunk(img)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in list(modules.modules()) + list(trunk.modules()))
    for a, b in zip(got + list(got_trunk), want + list(want_trunk)):
        assert _rel(a, b) < 1e-5
