"""Command lines of train.py and test.py (spec training.md §2), built on the config flags of :mod:`main.config`."""
from __future__ import annotations

import argparse
from typing import Sequence

from common.launch import under_torchrun
from main.config import Config, add_config_arguments, config_from_args

GPU_HELP = ("GPU ids, as a range '0-3' or a list '0,1,2,3'; one process per GPU (DistributedDataParallel). "
            "Without CUDA the run uses the CPU. Not needed under torchrun (LOCAL_RANK picks the GPU).")


def _base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--gpu", type=str, default=None, help=GPU_HELP)
    parser.add_argument("--stage", type=str, default=None, choices=["lixel", "param"],
                        help="training stage (required): lixel first, then param with --continue")
    add_config_arguments(parser)
    return parser


def _require(parser: argparse.ArgumentParser, args: argparse.Namespace, test: bool) -> None:
    if args.gpu is None and not under_torchrun():
        parser.error("--gpu is required: give the GPU ids, e.g. --gpu 0 or --gpu 0-3 (the CPU is used without CUDA)")
    if args.stage is None:
        parser.error("--stage is required: --stage lixel or --stage param")
    if test and args.test_epoch is None and args.model_path is None:
        parser.error("--test_epoch is required: the epoch N of output/model_dump/snapshot_N.pth.tar "
                     "(or give --model_path FILE)")


def train_parser() -> argparse.ArgumentParser:
    parser = _base_parser("Train I2L-MeshNet (run from main/ or the repository root).")
    parser.add_argument("--continue", dest="continue_train", action="store_true",
                        help="resume from the newest snapshot in output/model_dump (the param stage starts this way)")
    return parser


def test_parser() -> argparse.ArgumentParser:
    parser = _base_parser("Test I2L-MeshNet on --testset (run from main/ or the repository root).")
    parser.add_argument("--test_epoch", type=int, default=None,
                        help="test output/model_dump/snapshot_{test_epoch}.pth.tar (required unless --model_path)")
    parser.add_argument("--model_path", type=str, default=None, help="test this snapshot file instead")
    return parser


def parse_train_args(argv: Sequence[str] | None = None) -> Config:
    parser = train_parser()
    args = parser.parse_args(argv)
    _require(parser, args, test=False)
    return _config(parser, args)


def parse_test_args(argv: Sequence[str] | None = None) -> tuple[Config, int | None, str | None]:
    parser = test_parser()
    args = parser.parse_args(argv)
    _require(parser, args, test=True)
    return _config(parser, args), args.test_epoch, args.model_path


def _config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Config:
    try:
        return config_from_args(args)
    except ValueError as e:
        parser.error(str(e))
