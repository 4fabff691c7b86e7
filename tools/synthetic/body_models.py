"""Seeded generator of synthetic SMPL and MANO model files in the official pickle format.

The real SMPL / MANO files are licensed and cannot be shipped or downloaded, so the project builds
stand-ins with the same structure (see docs/body_models.md):

* a humanoid body with exactly 6890 vertices / 13776 faces (one closed genus-0 surface), the 24 SMPL
  joints with the real kinematic tree, 10 shape and 207 pose blend directions, skinning weights, a
  sparse joint regressor and the five face-keypoint vertices (331 nose, 2802 / 6262 eyes, 3489 /
  3990 ears) on the head;
* a right hand with 778 vertices / 1538 faces (open at a 16-vertex wrist loop), the 16 MANO joints,
  fingertip vertices 745 / 317 / 444+445 / 556 / 673, a 45-D PCA basis and a mean articulation;
* the two external body regressors (Human3.6M and COCO joints, 17 x 6890 each).

Meshes are built procedurally from stacked cross-section rings (:mod:`.body_model_kit.mesh_builder`); the
vertex count is brought to the exact target by splitting the longest edges, and the keypoint vertices are moved
to their official indices by a permutation (faces renumbered with it).  The parts live in
:mod:`tools.synthetic.body_model_kit`; this module writes the files and holds the CLI.

CLI: ``python -m tools.synthetic.body_models --out DIR [--seed N]``.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tools.synthetic.body_model_kit.body_model import (
    build_body_regressors,
    build_smpl_model,
)
from tools.synthetic.body_model_kit.hand_model import build_mano_model
from tools.synthetic.body_model_kit.pickle_writer import (
    MANO_CHUMPY_KEYS,
    SMPL_CHUMPY_KEYS,
    write_model_pickle,
)
from tools.synthetic.body_model_kit.skeleton import (
    COCO_JOINT_NAMES,
    COCO_REGRESSOR_FILENAME,
    GENDERS,
    H36M_JOINT_NAMES,
    H36M_REGRESSOR_FILENAME,
    MANO_FILENAME,
    MANO_FINGERTIP_VERTICES,
    MANO_JOINT_NAMES,
    MANO_PARENTS,
    SMPL_FACE_KEYPOINT_VERTICES,
    SMPL_FILENAMES,
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
)

__all__ = [
    "COCO_JOINT_NAMES",
    "COCO_REGRESSOR_FILENAME",
    "H36M_JOINT_NAMES",
    "H36M_REGRESSOR_FILENAME",
    "MANO_FILENAME",
    "MANO_FINGERTIP_VERTICES",
    "MANO_JOINT_NAMES",
    "MANO_PARENTS",
    "SMPL_FACE_KEYPOINT_VERTICES",
    "SMPL_FILENAMES",
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "build_body_regressors",
    "build_mano_model",
    "build_smpl_model",
    "main",
    "write_all",
    "write_body_regressors",
    "write_mano_file",
    "write_model_pickle",
    "write_smpl_files",
]


def write_smpl_files(out_dir: str | Path, seed: int = 0) -> list[Path]:
    """The neutral, male and female SMPL files (official names) in ``out_dir``."""
    out_dir = Path(out_dir)
    return [write_model_pickle(build_smpl_model(seed, g), out_dir / SMPL_FILENAMES[g], SMPL_CHUMPY_KEYS)
            for g in GENDERS]


def write_mano_file(out_dir: str | Path, seed: int = 0) -> Path:
    """``MANO_RIGHT.pkl`` in ``out_dir``."""
    return write_model_pickle(build_mano_model(seed), Path(out_dir) / MANO_FILENAME, MANO_CHUMPY_KEYS)


def write_body_regressors(out_dir: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """``J_regressor_h36m_correct.npy`` and ``J_regressor_coco_hip_smpl.npy`` (float64, 17 x 6890) in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    h36m, coco = build_body_regressors(seed)
    paths = (out_dir / H36M_REGRESSOR_FILENAME, out_dir / COCO_REGRESSOR_FILENAME)
    for p, arr in zip(paths, (h36m, coco)):
        np.save(p, arr)
    return paths


def write_all(out_dir: str | Path, seed: int = 0) -> dict[str, Path]:
    """Every synthetic model file into one folder.

    Keys: ``smpl_neutral``, ``smpl_male``, ``smpl_female``, ``mano_right``, ``J_regressor_h36m``,
    ``J_regressor_coco``.
    """
    smpl = write_smpl_files(out_dir, seed)
    mano = write_mano_file(out_dir, seed)
    h36m, coco = write_body_regressors(out_dir, seed)
    files = {f"smpl_{g}": p for g, p in zip(GENDERS, smpl)}
    files.update({"mano_right": mano, "J_regressor_h36m": h36m, "J_regressor_coco": coco})
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.synthetic.body_models",
        description="Write synthetic SMPL (neutral/male/female) and MANO model files in the official "
                    "pickle format, plus the H36M and COCO body regressors, into one folder.")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    for name, path in write_all(args.out, args.seed).items():
        print(f"{name:18s} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
