"""Inspect an I2L-MeshNet snapshot and check that it loads strictly into this codebase's network.

    python tools/inspect_checkpoint.py output/model_dump/snapshot_7.pth.tar [--human_model_dir DIR]

Prints the epoch, the number of network entries, the variant (body/hand, from the MeshNet output size), the
human-model buffers present, and the optimizer's parameter count; then builds the matching network (needs the
SMPL or MANO model files) and loads the weights strictly.  Exit code 0 when the snapshot loads.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.checkpoint import (  # noqa: E402
    VARIANT_NAMES,
    CheckpointError,
    inspect_checkpoint,
    load_checkpoint_file,
    load_network,
    normalize_state_dict,
)
from common.config import Config  # noqa: E402
from common.utils.human_models import build_human_model  # noqa: E402
from common.utils.model_files import ModelFileError  # noqa: E402
from main.model import I2LMeshNet  # noqa: E402


def describe(ckpt: dict, path: str | Path = "snapshot") -> dict:
    """Summary of a loaded snapshot dict: epoch, entry counts, variant, resnet depth, stage."""
    network = ckpt["network"]
    info = inspect_checkpoint(ckpt, path)
    optimizer = ckpt.get("optimizer") or {}
    return {
        "epoch": ckpt.get("epoch"),
        "entries": len(network),
        "network_entries": len(normalize_state_dict(network)),
        "human_model_buffers": sorted(k.rsplit(".", 1)[-1] for k in network if "human_model_layer." in k),
        "variant": VARIANT_NAMES[info.is_hand],
        "resnet_type": info.resnet_type,
        "stage": f"{info.stage} (from {info.stage_source})" if info.stage else "unknown",
        "optimizer_params": sum(len(g.get("params", [])) for g in optimizer.get("param_groups", [])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--human_model_dir", type=Path, default=Config().human_model_dir)
    args = parser.parse_args(argv)
    try:
        ckpt = load_checkpoint_file(args.snapshot)
        info = describe(ckpt, args.snapshot)
        for key, value in info.items():
            print(f"{key}: {value}")
        human_model = build_human_model(info["variant"] == VARIANT_NAMES[True], args.human_model_dir)
        net = I2LMeshNet(human_model, resnet_type=info["resnet_type"])
        load_network(net, ckpt["network"], source=str(args.snapshot))
    except (CheckpointError, ModelFileError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"OK: {args.snapshot} loads strictly into the {info['variant']} network")
    return 0


if __name__ == "__main__":
    sys.exit(main())
