"""``main.config``, as in the original layout: the :class:`Config` value (:mod:`common.config`) and its CLI flags
(:mod:`main.cli`) under one name, so ``from main.config import make_config`` keeps working."""
from common.config import (
                           AMP_CHOICES,
                           DATASET_NAMES,
                           HAND_DATASETS,
                           PARAM_STAGE_EPOCH_SHIFT,
                           RESNET_TYPES,
                           ROOT_DIR,
                           STAGES,
                           TESTSETS,
                           TRAINSETS_2D,
                           TRAINSETS_3D,
                           Config,
                           make_config,
                           parse_gpu_ids,
                           uses_freihand,
                           validate,
)
from main.cli import add_config_arguments, config_from_args

__all__ = ["AMP_CHOICES", "DATASET_NAMES", "HAND_DATASETS", "PARAM_STAGE_EPOCH_SHIFT", "RESNET_TYPES", "ROOT_DIR",
           "STAGES", "TESTSETS", "TRAINSETS_2D", "TRAINSETS_3D", "Config", "make_config", "parse_gpu_ids",
           "uses_freihand", "validate", "add_config_arguments", "config_from_args"]
