"""Command lines: one ``--<field>`` flag per :class:`common.config.Config` field, and train.py's / test.py's parsers.

The original's commands work unchanged (``--gpu 0-3 --stage lixel``, ``--continue``, ``--test_epoch N``); every other
setting of the original's config file is a flag whose default, when omitted, stays the derived one.
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Sequence

from common.config import AMP_CHOICES, STAGES, Config, make_config, parse_gpu_ids
from common.launch import under_torchrun


def _str2bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one optional ``--<field>`` flag per :class:`Config` field (defaults stay derived when omitted)."""
    group = parser.add_argument_group("config overrides (defaults: the original release)")
    skip = {"gpu_ids", "stage", "continue_train", "root_dir", "overrides"}
    for f in dataclasses.fields(Config):
        if f.name in skip:
            continue
        flag = f"--{f.name}"
        default_text = f"default: {f.default!r}" if f.default is not dataclasses.MISSING else ""
        if f.name in ("trainset_3d", "trainset_2d"):
            group.add_argument(flag, nargs="*", default=None, help=f"dataset names ({default_text})")
        elif f.name == "lr_dec_epoch":
            group.add_argument(flag, nargs="+", type=int, default=None,
                               help="epochs where lr is divided, lixel-stage numbering (+5 in the param stage)")
        elif f.name in ("input_img_shape", "output_hm_shape"):
            n = 2 if f.name == "input_img_shape" else 3
            group.add_argument(flag, nargs=n, type=int, default=None, help=default_text)
        elif f.name == "exact":
            group.add_argument(flag, type=_str2bool, nargs="?", const=True, default=None,
                               help="run the original's operation order (BatchNorm unfolded, fp32) to reproduce "
                                    "published numbers to the last digit; the default fast path differs only in "
                                    "float rounding (refused with --amp)")
        elif f.type in ("bool", bool):
            group.add_argument(flag, type=_str2bool, nargs="?", const=True, default=None, help=default_text)
        elif f.name == "end_epoch":
            group.add_argument(flag, type=int, default=None,
                               help="number of lixel-stage epochs (+5 in the param stage; default 13, hand 25)")
        elif f.name == "amp":
            group.add_argument(flag, choices=AMP_CHOICES, default=None,
                               help="mixed precision: bf16 / fp16 autocast (fp16 with a gradient scaler); default fp32")
        elif f.name == "num_thread":
            group.add_argument(flag, type=int, default=None,
                               help="data loader workers per process (default: the cores shared by the processes "
                                    "of this machine, at most 30)")
        elif f.type in ("int", int):
            group.add_argument(flag, type=int, default=None, help=default_text)
        elif f.type in ("float", float):
            group.add_argument(flag, type=float, default=None, help=default_text)
        else:
            group.add_argument(flag, type=str, default=None, help=default_text)


def config_from_args(args: argparse.Namespace, **extra: Any) -> Config:
    """Build a :class:`Config` from parsed CLI arguments (only flags that were given override defaults)."""
    return make_config(**config_overrides(args, **extra))


def config_overrides(args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    """The :class:`Config` fields that parsed CLI arguments set (flags given, plus ``extra``), by name."""
    names = {f.name for f in dataclasses.fields(Config)} - {"overrides"}
    overrides = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if getattr(args, "gpu", None):
        overrides["gpu_ids"] = parse_gpu_ids(args.gpu)
    if getattr(args, "stage", None):
        overrides["stage"] = args.stage
    if getattr(args, "continue_train", False):
        overrides["continue_train"] = True
    overrides.update(extra)
    return overrides


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """``--debug``: show the traceback of a user error instead of the one-line message."""
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of a one-line message")


def wants_debug(argv: Sequence[str] | None) -> bool:
    """Whether ``argv`` asks for ``--debug`` (read before the full parse, which may itself fail)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_debug_argument(parser)
    return parser.parse_known_args(argv)[0].debug


GPU_HELP = ("GPU ids, as a range '0-3' or a list '0,1,2,3'; one process per GPU (DistributedDataParallel). "
            "Without CUDA the run uses the CPU. Not needed under torchrun (LOCAL_RANK picks the GPU).")


def _base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--gpu", type=str, default=None, help=GPU_HELP)
    parser.add_argument("--stage", type=str, default=None, choices=list(STAGES),
                        help="training stage (required): lixel first, then param with --continue")
    add_debug_argument(parser)
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
