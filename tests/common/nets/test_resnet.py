"""The ResNet trunk (common/nets/resnet.py): ImageNet weights from the torch hub cache, the offline error that says
how to fix it, a wrong weights file rejected."""
from pathlib import Path

import pytest
import torch
import torchvision

from common.nets import resnet
from common.nets.resnet import ResNetBackbone, find_imagenet_weights, imagenet_url
from main.networks import build_model


def _fake_imagenet_file(path: Path) -> dict:
    """A torchvision-format ImageNet file (torchvision's own ResNet-50 with random weights, ``fc`` included)."""
    torch.manual_seed(5)
    state = torchvision.models.resnet50(weights=None).state_dict()
    for v in state.values():
        if v.is_floating_point():
            v.normal_()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def test_imagenet_weights_come_from_the_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = tmp_path / "torch" / "hub" / "checkpoints" / "resnet50-0676ba61.pth"
    weights = _fake_imagenet_file(cached)
    assert imagenet_url(50) == torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url  # the original's weights
    trunk = ResNetBackbone(50)
    assert trunk.load_imagenet_weights() == cached
    torch.testing.assert_close(trunk.layer4[2].bn3.running_var, weights["layer4.2.bn3.running_var"])


def test_training_without_imagenet_weights_offline_explains_how_to_fix(mano, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    # an address that refuses at once: the download is attempted and fails as it does on an offline machine
    monkeypatch.setattr(resnet, "imagenet_url", lambda resnet_type: "http://127.0.0.1:9/resnet50-0676ba61.pth")
    with pytest.raises(FileNotFoundError) as err:
        find_imagenet_weights(50)
    msg = str(err.value)
    assert "resnet50-0676ba61.pth" in msg and "http://127.0.0.1:9/resnet50-0676ba61.pth" in msg
    assert str(tmp_path / "empty" / "hub" / "checkpoints") in msg
    assert "--pretrained_backbone" in msg and "--random_init" in msg
    assert not any((tmp_path / "empty" / "hub" / "checkpoints").iterdir())  # nothing half-downloaded is left
    net = _trained_init(build_model(mano, "lixel"), random_init=True)  # explicit opt-in works offline
    assert abs(net.pose_backbone.conv1.weight.std().item() - 0.001) < 2e-4


def test_wrong_imagenet_file_is_rejected(tmp_path):
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "bad.pth")
    with pytest.raises(RuntimeError, match="bad.pth.*missing keys"):
        ResNetBackbone(50).load_imagenet_weights(tmp_path / "bad.pth")


def _trained_init(net, pretrained_backbone=None, random_init=False):
    net.init_weights(pretrained_backbone, random_init)
    return net
