"""Seeded generator of mini Human36M / MuCo / MSCOCO / PW3D / FreiHAND datasets in their official layouts.

Every file the dataset readers open is written with the official directory layout and JSON schema (see
docs/data.md), and every image is *rendered* from the synthetic SMPL body / MANO hand described by the
annotations (random plausible pose, random shape — some bodies with a |beta_i| > 3 to exercise the shape reset —,
random camera and textured background; each person or hand fully inside the image).  The ground truth is built
from the same parameters through the readers' own formulas, so annotations and pixels agree exactly.  What each
dataset holds is described in its writer module under :mod:`tools.synthetic.dataset_kit`.

RootNet-style files hold the processed (aspect-fixed, x1.25) ground-truth box and the ground-truth root in camera
coordinates (mm for Human36M and MSCOCO, metres for PW3D and FreiHAND).

Optionally (``save_masks=True``, ``--save_masks``) each dataset folder also gets ``synthetic_masks/``: one PNG label
map per image (0 = background, k = visible pixels of the k-th person drawn) and ``index.json`` mapping
``str(image_id)`` to the mask file and ``{str(ann_id): label}``.  The readers never look at it.

CLI: ``python -m tools.synthetic.datasets --data_dir DIR --model_dir DIR [--names ...] [--seed N]
[--size test|small|large]``
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from tools.synthetic.dataset_kit.freihand import write_freihand
from tools.synthetic.dataset_kit.generator import Generator
from tools.synthetic.dataset_kit.human36m import H36M_JOINTS, write_human36m
from tools.synthetic.dataset_kit.mscoco import write_mscoco
from tools.synthetic.dataset_kit.muco import MUCO_JOINTS, write_muco
from tools.synthetic.dataset_kit.pw3d import write_pw3d

__all__ = ["DATASET_NAMES", "H36M_JOINTS", "MUCO_JOINTS", "SIZES", "main", "write_datasets"]

DATASET_NAMES = ("Human36M", "MuCo", "MSCOCO", "PW3D", "FreiHAND")
SIZES = ("test", "small", "large")

_WRITERS: dict[str, Callable[[Generator, str, np.random.Generator], Path]] = {
    "Human36M": write_human36m,
    "MuCo": write_muco,
    "MSCOCO": write_mscoco,
    "PW3D": write_pw3d,
    "FreiHAND": write_freihand,
}


def write_datasets(data_dir: str | Path, model_dir: str | Path, names: Sequence[str] = DATASET_NAMES, seed: int = 0,
                   size: str = "test", save_masks: bool = False) -> dict[str, Path]:
    """Write the mini datasets ``names`` under ``data_dir`` (the role of the repository's ``data/`` folder).

    Args:
        data_dir: output root; dataset ``X`` goes to ``data_dir/X`` in its official layout.
        model_dir: folder with the SMPL/MANO ``.pkl`` files and the two body regressors (``.npy``).
        names: datasets to write (any subset of ``DATASET_NAMES``).
        seed: every dataset is deterministic for (seed, dataset name, size).
        size: ``"test"`` (a handful of samples per split), ``"small"`` (about 10x more) or ``"large"`` (thousands of
            training samples: 3000 Human36M and 1000 MSCOCO training images; test splits as ``"small"``).
        save_masks: also write per-image label maps under ``data_dir/X/synthetic_masks/``.
    Returns:
        ``{name: data_dir/name}`` for the datasets written.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    unknown = [n for n in names if n not in DATASET_NAMES]
    if unknown:
        raise ValueError(f"unknown dataset name(s) {unknown}; choose from {DATASET_NAMES}")
    gen = Generator(Path(data_dir), Path(model_dir), save_masks)
    out = {}
    # float reductions in the SMPL/MANO layers depend on torch's thread count: generate single-threaded so the
    # files are byte-identical for a seed whatever the caller's setting
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name in DATASET_NAMES:
            if name in names:
                rng = np.random.default_rng([int(seed), DATASET_NAMES.index(name), SIZES.index(size)])
                out[name] = _WRITERS[name](gen, size, rng)
    finally:
        torch.set_num_threads(threads)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """CLI entry point: write the datasets and print where they went."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", required=True, help="output folder (plays the role of data/)")
    parser.add_argument("--model_dir", required=True, help="folder with the SMPL/MANO files and body regressors")
    parser.add_argument("--names", nargs="+", default=list(DATASET_NAMES), choices=DATASET_NAMES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="test", choices=SIZES)
    parser.add_argument("--save_masks", action="store_true", help="also write synthetic_masks/ label maps")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    written = write_datasets(args.data_dir, args.model_dir, args.names, args.seed, args.size, args.save_masks)
    for name, path in written.items():
        print(f"{name}: {path}")
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
