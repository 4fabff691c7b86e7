"""ResNet trunk (50/101/152, Bottleneck "v1.5") with torchvision-compatible state-dict names.

Written here rather than imported from torchvision so that the project runs where no torchvision build matches the
installed torch (e.g. CPU-only torch); the key names (``conv1``, ``bn1``, ``layer{1..4}.{b}.conv{1,2,3}``,
``downsample.{0,1}``) equal torchvision's, so its ImageNet weights load strictly.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

# blocks per stage
RESNET_SPECS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

# torchvision's ImageNet (IMAGENET1K_V1) weight files: the current name first, then the 2017 name.
IMAGENET_FILES = {
    50: ("resnet50-0676ba61.pth", "resnet50-19c8e357.pth"),
    101: ("resnet101-63fe2227.pth", "resnet101-5d3b4d8f.pth"),
    152: ("resnet152-394f9c45.pth", "resnet152-b121ed2d.pth"),
}
IMAGENET_URL = "https://download.pytorch.org/models/{}"


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride here) -> 1x1, expansion 4, identity or projection shortcut."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or inplanes != planes * self.expansion:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * self.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * self.expansion),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNetBackbone(nn.Module):
    """ResNet trunk without avgpool/fc.

    ``forward(x, skip_early)`` returns ``(early, final)``: ``early`` is the tensor entering ``layer1``
    ((B, 64, H/4, W/4) after the stem, or ``x`` itself when ``skip_early``), ``final`` the ``layer4`` output
    (B, 2048, H/32, W/32).
    """

    def __init__(self, resnet_type: int = 50) -> None:
        super().__init__()
        if resnet_type not in RESNET_SPECS:
            raise ValueError(f"resnet_type {resnet_type} is not supported; choose one of {sorted(RESNET_SPECS)}")
        self.resnet_type = resnet_type
        blocks = RESNET_SPECS[resnet_type]
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = 64
        for stage, (planes, n, stride) in enumerate(zip((64, 128, 256, 512), blocks, (1, 2, 2, 2)), start=1):
            layers = []
            for b in range(n):
                layers.append(Bottleneck(inplanes, planes, stride if b == 0 else 1))
                inplanes = planes * Bottleneck.expansion
            setattr(self, f"layer{stage}", nn.Sequential(*layers))
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

        ``path`` None searches ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch``) for the official
        file names.  Raises ``FileNotFoundError`` saying how to obtain the file when nothing is found.
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
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return Path(torch_home) / "hub" / "checkpoints"


def find_imagenet_weights(resnet_type: int) -> Path:
    """Locate torchvision's ImageNet ResNet file in the torch hub cache, or explain how to get it."""
    folder = torch_hub_checkpoint_dir()
    for name in IMAGENET_FILES[resnet_type]:
        if (folder / name).is_file():
            return folder / name
    name = IMAGENET_FILES[resnet_type][0]
    raise FileNotFoundError(
        f"ImageNet weights for ResNet-{resnet_type} not found in {folder} (looked for "
        f"{', '.join(IMAGENET_FILES[resnet_type])}). Training starts from them like the original. Fix: download "
        f"{IMAGENET_URL.format(name)} into {folder} (or set TORCH_HOME), or pass --pretrained_backbone <file>, "
        f"or pass --random_init to train from random initialisation."
    )
