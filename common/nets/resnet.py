"""ResNet trunk (50/101/152) built from torchvision's ``ResNet`` / ``Bottleneck`` (docs/network.md#backbone).

The trunk is torchvision's ResNet without ``avgpool`` / ``fc``, so the state-dict keys are exactly torchvision's
(``conv1``, ``bn1``, ``layer{1..4}.{b}.conv{1,2,3}``, ``downsample.{0,1}``) and the official checkpoints' keys.
Training starts from torchvision's ImageNet weights (IMAGENET1K_V1, the weights the original used): read from the
torch hub cache, downloaded there when the machine is online, or read from a file given with
``--pretrained_backbone``.
"""
from __future__ import annotations

import urllib.error
from pathlib import Path

import torch
from torch import nn
from torchvision.models import ResNet50_Weights, ResNet101_Weights, ResNet152_Weights
from torchvision.models.resnet import Bottleneck, ResNet

# blocks per stage
RESNET_SPECS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
# torchvision's ImageNet weights (IMAGENET1K_V1: the original's model-zoo weights)
IMAGENET_WEIGHTS = {50: ResNet50_Weights.IMAGENET1K_V1, 101: ResNet101_Weights.IMAGENET1K_V1,
                    152: ResNet152_Weights.IMAGENET1K_V1}
# the 2017 file names of the same weights, still found in older caches
LEGACY_IMAGENET_FILES = {50: "resnet50-19c8e357.pth", 101: "resnet101-5d3b4d8f.pth", 152: "resnet152-b121ed2d.pth"}


class ResNetBackbone(ResNet):
    """torchvision ResNet trunk without avgpool/fc.

    ``forward(x, skip_early)`` returns ``(early, final)``: ``early`` is the tensor entering ``layer1``
    ((B, 64, H/4, W/4) after the stem, or ``x`` itself when ``skip_early``), ``final`` the ``layer4`` output
    (B, 2048, H/32, W/32).  Construction-time init as the original: conv ~ N(0, 0.001), BatchNorm (1, 0).
    """

    def __init__(self, resnet_type: int = 50) -> None:
        if resnet_type not in RESNET_SPECS:
            raise ValueError(f"resnet_type {resnet_type} is not supported; choose one of {sorted(RESNET_SPECS)}")
        super().__init__(Bottleneck, list(RESNET_SPECS[resnet_type]))
        self.resnet_type = resnet_type
        del self.avgpool, self.fc
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, mean=0.0, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, skip_early: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        if not skip_early:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        early = x
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        return early, x

    def load_imagenet_weights(self, path: str | Path | None = None) -> Path:
        """Load torchvision's ImageNet weights strictly (``fc.*`` dropped); returns the file used.

        ``path`` None takes the file from the torch hub cache, downloading it there first when it is absent
        (:func:`find_imagenet_weights`).
        """
        file = Path(path) if path is not None else find_imagenet_weights(self.resnet_type)
        if not file.is_file():
            raise FileNotFoundError(f"--pretrained_backbone {file}: file not found")
        state = torch.load(file, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            raise RuntimeError(
                f"{file}: not a torchvision ResNet-{self.resnet_type} state dict; missing keys "
                f"{missing[:10]}, unexpected keys {unexpected[:10]}"
            )
        self.load_state_dict(state, strict=True)
        return file


def torch_hub_checkpoint_dir() -> Path:
    """Where torch.hub (and torchvision's weights API) keep downloaded weights: ``$TORCH_HOME/hub/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def imagenet_url(resnet_type: int) -> str:
    """torchvision's download URL of the IMAGENET1K_V1 weights of ResNet-``resnet_type``."""
    return IMAGENET_WEIGHTS[resnet_type].url


def find_imagenet_weights(resnet_type: int) -> Path:
    """The ImageNet ResNet file in the torch hub cache; downloaded there (hash-checked) when absent.

    Raises ``FileNotFoundError`` naming the file, the URL, the cache folder, ``--pretrained_backbone`` and
    ``--random_init`` when it is absent and cannot be downloaded (offline machine).
    """
    url = imagenet_url(resnet_type)
    folder = torch_hub_checkpoint_dir()
    name = url.rsplit("/", 1)[-1]
    for candidate in (name, LEGACY_IMAGENET_FILES[resnet_type]):
        if (folder / candidate).is_file():
            return folder / candidate
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Downloading ImageNet weights for ResNet-{resnet_type} from {url} into {folder}")
    try:
        torch.hub.download_url_to_file(url, str(folder / name), hash_prefix=torch.hub.HASH_REGEX.search(name).group(1))
    except (urllib.error.URLError, OSError, RuntimeError) as e:
        raise FileNotFoundError(
            f"ImageNet weights for ResNet-{resnet_type} ({name}) are not in the torch hub cache {folder} and could "
            f"not be downloaded from {url} ({e}). Training starts from them like the original. Fix: download {url} "
            f"into {folder} (or set TORCH_HOME), or pass --pretrained_backbone <file>, or pass --random_init to "
            f"train from random initialisation."
        ) from e
    return folder / name
