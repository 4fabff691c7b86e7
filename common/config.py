"""Configuration as a value: the original's defaults and the body/hand variant (the CLI flags: :mod:`main.cli`).

``make_config(...)`` builds one immutable :class:`Config`.  Nothing is created or changed at import time;
output folders are created by :meth:`Config.make_dirs` when a script decides to write.

Derived defaults follow the original's config file (docs/training.md):

* the hand variant is selected when ``FreiHAND`` appears in ``trainset_3d + trainset_2d + [testset]``;
  it changes ``bbox_3d_size`` (2 -> 0.3 m), ``lr_dec_epoch`` ([10, 12] -> [17, 21]) and ``end_epoch`` (13 -> 25);
* the ``param`` stage adds 5 to every ``lr_dec_epoch`` entry and to ``end_epoch`` (also to values given
  explicitly: like the original's config file, ``--lr_dec_epoch`` / ``--end_epoch`` describe the lixel-stage
  schedule, so both stages are launched with the same flags).

Any other value given explicitly (keyword or CLI flag) wins over the derived default.

A config cannot drift from what it derives from: it remembers the values it was built from (``overrides``), and
``cfg.replace(**changes)`` is ``make_config(**overrides, **changes)``, so ``make_config().replace(stage="param")``
has the param-stage schedule and ``replace(trainset_3d=["FreiHAND"], trainset_2d=[], testset="FreiHAND")`` the hand
settings.  Values given to ``replace`` mean what the flags mean (``end_epoch`` / ``lr_dec_epoch`` in lixel-stage
epochs).  Every construction is validated: mixed body/hand datasets and shapes other than the network's
(256 x 256 crop -> 64^3 heat maps) are refused naming the flag, and a ``Config(...)`` or ``dataclasses.replace``
whose derived fields disagree with its stage/datasets is refused (use :func:`make_config` / ``cfg.replace``).

Batch sizes are per process: each training process (one GPU under DDP, or the CPU) loads ``train_batch_size``
samples per iteration, so the global batch is ``train_batch_size x world size``, which equals the original's
``train_batch_size x num_gpus`` when one process runs per ``--gpu`` id.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

ROOT_DIR = Path(__file__).resolve().parents[1]

# the datasets each list may name; data/registry.py registers exactly these readers
TRAINSETS_3D = ("Human36M", "MuCo", "FreiHAND")
TRAINSETS_2D = ("MSCOCO",)
TESTSETS = ("Human36M", "MSCOCO", "PW3D", "FreiHAND")
DATASET_NAMES = tuple(sorted({*TRAINSETS_3D, *TRAINSETS_2D, *TESTSETS}))
HAND_DATASETS = ("FreiHAND",)
STAGES = ("lixel", "param")
RESNET_TYPES = (50, 101, 152)
PARAM_STAGE_EPOCH_SHIFT = 5
AMP_CHOICES = ("fp32", "bf16", "fp16")
# the network maps a 256 x 256 crop to 64 x 64 x 64 heat maps; its layer sizes and the official weights fix both
SUPPORTED_INPUT_IMG_SHAPE = (256, 256)
SUPPORTED_OUTPUT_HM_SHAPE = (64, 64, 64)


@dataclass(frozen=True)
class Config:
    """All settings of a run.  Units: ``bbox_3d_size`` in metres, shapes as (height, width) / (D, H, W).

    Build with :func:`make_config`, :func:`config_from_args` or :meth:`replace` (they derive the variant- and
    stage-dependent values); the constructor only validates.
    """

    # datasets
    trainset_3d: tuple[str, ...] = ("Human36M", "MuCo")
    trainset_2d: tuple[str, ...] = ("MSCOCO",)
    testset: str = "PW3D"
    # model
    resnet_type: int = 50
    input_img_shape: tuple[int, int] = (256, 256)
    output_hm_shape: tuple[int, int, int] = (64, 64, 64)
    bbox_3d_size: float = 2.0
    sigma: float = 2.5
    # training
    stage: str = "lixel"
    lr: float = 1e-4
    lr_dec_factor: float = 10.0
    lr_dec_epoch: tuple[int, ...] = (10, 12)
    end_epoch: int = 13
    train_batch_size: int = 16  # per process (per GPU), as the original's per-GPU batch
    normal_loss_weight: float = 0.1
    use_joint_orig_loss: bool = True
    # testing
    test_batch_size: int = 16  # per process (per GPU)
    use_gt_info: bool = False
    # system
    # loader workers per process; None: this machine's cores shared by its processes, at most 30 (the original's 30)
    num_thread: int | None = None
    gpu_ids: tuple[int, ...] = ()
    continue_train: bool = False
    seed: int = 0
    pretrained_backbone: str | None = None
    random_init: bool = False
    amp: str = "fp32"  # mixed precision: fp32 (the original), bf16 or fp16 (autocast; fp16 adds a gradient scaler)
    compile: bool = False  # torch.compile the network
    # run the original's operation order (main/reference.py): BatchNorm unfolded, fp32, to reproduce published
    # numbers to the last printed digit; the default fast path is the same math with different float rounding
    exact: bool = False
    # recompute the trunk blocks' and deconvolution stacks' activations in the backward pass instead of storing them
    # (training; less memory, somewhat more time; the same step to float rounding)
    recompute: bool = False
    save_every_min: float = 0.0  # > 0: also write a rolling mid-epoch resume file every that many minutes
    # directories
    root_dir: Path = ROOT_DIR
    data_dir: Path = ROOT_DIR / "data"
    output_dir: Path = ROOT_DIR / "output"
    human_model_dir: Path = ROOT_DIR / "common" / "utils" / "human_model_files"
    # the normalised keyword arguments this config was built from (what ``replace`` re-derives from)
    overrides: tuple[tuple[str, Any], ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        validate(self)
        expected = _resolve(dict(self.overrides))
        stale = [f"{f.name}={getattr(self, f.name)!r} (expected {expected.get(f.name, f.default)!r})"
                 for f in dataclasses.fields(self)
                 if f.name != "overrides" and getattr(self, f.name) != expected.get(f.name, f.default)]
        if stale:
            raise ValueError(
                f"Config fields disagree with the settings they derive from (stage {self.stage!r}, the datasets, "
                f"the values given): {stale}; build configs with make_config(...), config_from_args(...) or "
                "cfg.replace(...), which derive them, not with Config(...) or dataclasses.replace")

    # ----- derived values -------------------------------------------------------------------
    @property
    def is_hand(self) -> bool:
        """True for the MANO (hand) variant: FreiHAND appears in any configured dataset list."""
        return uses_freihand(self.trainset_3d, self.trainset_2d, self.testset)

    @property
    def model_dir(self) -> Path:
        return self.output_dir / "model_dump"

    @property
    def log_dir(self) -> Path:
        return self.output_dir / "log"

    @property
    def result_dir(self) -> Path:
        return self.output_dir / "result"

    def make_dirs(self) -> None:
        """Create the output folders (model_dump, log, result) if missing."""
        for d in (self.model_dir, self.log_dir, self.result_dir):
            d.mkdir(parents=True, exist_ok=True)

    def replace(self, **changes: Any) -> "Config":
        """``make_config(**self.overrides, **changes)``: the derived defaults (variant, stage schedule) are derived
        again and the result validated.  ``end_epoch`` / ``lr_dec_epoch`` are lixel-stage epochs, like the flags
        (so on a param-stage config ``replace(end_epoch=13)`` gives ``end_epoch == 18``)."""
        if "overrides" in changes:
            raise ValueError("Config.replace: 'overrides' is not a setting; pass the settings to change")
        return make_config(**{**dict(self.overrides), **changes})


def uses_freihand(trainset_3d: Sequence[str], trainset_2d: Sequence[str], testset: str) -> bool:
    """True when a hand dataset is named anywhere: the MANO variant."""
    return any(name in HAND_DATASETS for name in (*trainset_3d, *trainset_2d, testset))


def parse_gpu_ids(text: str) -> tuple[int, ...]:
    """Parse ``--gpu``: ``'0-3'`` -> (0, 1, 2, 3); ``'0,2'`` -> (0, 2); ``'1'`` -> (1,)."""
    text = text.strip()
    try:
        if "-" in text:
            start, end = text.split("-")
            ids = tuple(range(int(start), int(end) + 1))
        else:
            ids = tuple(int(t) for t in text.split(",") if t.strip() != "")
    except ValueError:
        raise ValueError(f"--gpu {text!r}: expected a range like '0-3' or a list like '0,1,2,3'") from None
    if not ids:
        raise ValueError(f"--gpu {text!r}: no GPU id given; use e.g. --gpu 0 or --gpu 0-3")
    return ids


def make_config(**overrides: Any) -> Config:
    """Build a :class:`Config` from the original defaults plus ``overrides``.

    Variant- and stage-dependent defaults (``bbox_3d_size``, ``lr_dec_epoch``, ``end_epoch``) are derived unless
    given explicitly.  Raises ``ValueError`` naming the field for unknown names or invalid values.
    """
    values = _normalize(overrides)
    return Config(**_resolve(values), overrides=tuple(sorted(values.items())))


def _normalize(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Check the names and convert sequences to tuples and folders to ``Path``."""
    names = {f.name for f in dataclasses.fields(Config)} - {"overrides"}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown config field(s) {unknown}; known fields: {sorted(names)}")
    values = dict(overrides)
    for key in ("trainset_3d", "trainset_2d", "lr_dec_epoch", "gpu_ids"):
        if key in values:
            values[key] = tuple(values[key])
    for key in ("root_dir", "data_dir", "output_dir", "human_model_dir"):
        if key in values:
            values[key] = Path(values[key])
    for key in ("input_img_shape", "output_hm_shape"):
        if key in values:
            values[key] = tuple(int(v) for v in values[key])
    return values


def _resolve(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The field values of the config built from normalised ``overrides``: the given values plus the derived ones
    (fields absent from the result keep their class defaults)."""
    values = dict(overrides)
    defaults = {f.name: f.default for f in dataclasses.fields(Config)}
    trainset_3d = values.get("trainset_3d", defaults["trainset_3d"])
    trainset_2d = values.get("trainset_2d", defaults["trainset_2d"])
    testset = values.get("testset", defaults["testset"])
    stage = values.get("stage", defaults["stage"])
    hand = uses_freihand(trainset_3d, trainset_2d, testset)
    values.setdefault("bbox_3d_size", 0.3 if hand else 2.0)
    # The schedule is given as in the original's config (lixel-stage epochs); the param stage shifts it by 5,
    # whether it is the default or given explicitly, so both stages are run with the same flags.
    shift = PARAM_STAGE_EPOCH_SHIFT if stage == "param" else 0
    values["lr_dec_epoch"] = tuple(e + shift for e in values.get("lr_dec_epoch", (17, 21) if hand else (10, 12)))
    values["end_epoch"] = values.get("end_epoch", 25 if hand else 13) + shift
    if "root_dir" in values:
        root = values["root_dir"]
        values.setdefault("data_dir", root / "data")
        values.setdefault("output_dir", root / "output")
        values.setdefault("human_model_dir", root / "common" / "utils" / "human_model_files")
    return values


def validate(cfg: Config) -> None:
    """Raise ``ValueError`` naming the offending field/flag when ``cfg`` is inconsistent."""
    if cfg.stage not in STAGES:
        raise ValueError(f"--stage {cfg.stage!r}: choose one of {list(STAGES)}")
    for name in cfg.trainset_3d:
        if name not in TRAINSETS_3D:
            raise ValueError(f"--trainset_3d: unknown dataset {name!r}; allowed: {list(TRAINSETS_3D)}")
    for name in cfg.trainset_2d:
        if name not in TRAINSETS_2D:
            raise ValueError(f"--trainset_2d: unknown dataset {name!r}; allowed: {list(TRAINSETS_2D)}")
    if cfg.testset not in TESTSETS:
        raise ValueError(f"--testset: unknown dataset {cfg.testset!r}; allowed: {list(TESTSETS)}")
    if cfg.testset == "FreiHAND" and (tuple(cfg.trainset_3d) != ("FreiHAND",) or cfg.trainset_2d):
        raise ValueError(
            "--testset FreiHAND requires --trainset_3d FreiHAND and an empty --trainset_2d "
            f"(got trainset_3d={list(cfg.trainset_3d)}, trainset_2d={list(cfg.trainset_2d)})"
        )
    if cfg.is_hand and any(n not in HAND_DATASETS for n in (*cfg.trainset_3d, *cfg.trainset_2d)):
        raise ValueError(
            "the hand (MANO) variant is selected because FreiHAND is configured, but body datasets are configured "
            f"too (trainset_3d={list(cfg.trainset_3d)}, trainset_2d={list(cfg.trainset_2d)}); use FreiHAND alone"
        )
    if cfg.is_hand and cfg.testset != "FreiHAND":
        raise ValueError(
            f"--testset {cfg.testset} is a body (SMPL) dataset, but --trainset_3d {' '.join(cfg.trainset_3d)} selects "
            "the hand (MANO) variant; use --testset FreiHAND for the hand, or body training sets for the body")
    if tuple(cfg.input_img_shape) != SUPPORTED_INPUT_IMG_SHAPE:
        raise ValueError(
            f"--input_img_shape {' '.join(map(str, cfg.input_img_shape))}: not supported; the network (and the "
            f"official weights) take a {SUPPORTED_INPUT_IMG_SHAPE[0]} x {SUPPORTED_INPUT_IMG_SHAPE[1]} crop; "
            "leave the flag out")
    if tuple(cfg.output_hm_shape) != SUPPORTED_OUTPUT_HM_SHAPE:
        raise ValueError(
            f"--output_hm_shape {' '.join(map(str, cfg.output_hm_shape))}: not supported; the network (and the "
            f"official weights) produce {' x '.join(map(str, SUPPORTED_OUTPUT_HM_SHAPE))} heat maps; "
            "leave the flag out")
    if cfg.resnet_type not in RESNET_TYPES:
        raise ValueError(f"--resnet_type {cfg.resnet_type}: choose one of {list(RESNET_TYPES)}")
    if cfg.train_batch_size < 1 or cfg.test_batch_size < 1:
        raise ValueError("--train_batch_size and --test_batch_size must be >= 1")
    if cfg.num_thread is not None and cfg.num_thread < 0:
        raise ValueError("--num_thread must be >= 0")
    if cfg.amp not in AMP_CHOICES:
        raise ValueError(f"--amp {cfg.amp!r}: choose one of {list(AMP_CHOICES)}")
    if not cfg.save_every_min >= 0:
        raise ValueError(f"--save_every_min {cfg.save_every_min}: must be >= 0 (0 turns the mid-epoch file off)")
    if cfg.exact and cfg.amp != "fp32":
        raise ValueError(f"--exact with --amp {cfg.amp}: --exact runs the original's float32 computation; "
                         "drop --amp (or drop --exact to run the fast path in lower precision)")
    if cfg.exact and cfg.recompute:
        raise ValueError("--exact with --recompute: activation recomputation belongs to the fast path; drop one")
    if list(cfg.lr_dec_epoch) != sorted(cfg.lr_dec_epoch):
        raise ValueError(f"--lr_dec_epoch {list(cfg.lr_dec_epoch)}: epochs must be in increasing order")
