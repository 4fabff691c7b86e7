"""Dataset registry: name -> reader class.

The five official readers live in ``data/<Name>/<Name>.py`` (names: :data:`common.config.DATASET_NAMES`) and are
imported on first use; :func:`register_dataset` adds a reader of one's own.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, TypeVar

from common.config import DATASET_NAMES, Config
from common.utils.human_models import HumanModel

if TYPE_CHECKING:
    from data.base import BaseDataset

__all__ = ["DATASETS", "register_dataset", "build_dataset"]

#: name -> dataset class; filled by :func:`register_dataset` when a reader module is imported.
DATASETS: dict[str, type["BaseDataset"]] = {}

#: Where the official readers live (imported lazily by :func:`build_dataset`).
_BUILTIN_MODULES = {name: f"data.{name}.{name}" for name in DATASET_NAMES}

D = TypeVar("D", bound=type)




def register_dataset(cls: D) -> D:
    """Class decorator: register a :class:`BaseDataset` subclass under its ``name``."""
    name = getattr(cls, "name", None)
    if not name:
        raise ValueError(f"register_dataset: {cls.__name__} has no 'name'")
    existing = DATASETS.get(name)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"register_dataset: the name {name!r} is already taken by {existing.__qualname__}")
    DATASETS[name] = cls
    return cls


def _dataset_class(name: str) -> type["BaseDataset"]:
    if name not in DATASETS and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    if name not in DATASETS:
        known = sorted(set(DATASETS) | set(_BUILTIN_MODULES))
        raise KeyError(f"unknown dataset {name!r}; known datasets: {known}")
    return DATASETS[name]


def build_dataset(name: str, cfg: Config, split: str, human_model: HumanModel) -> "BaseDataset":
    """Construct the dataset registered as ``name`` for ``split`` ('train' / 'test')."""
    return _dataset_class(name)(cfg, split, human_model)
