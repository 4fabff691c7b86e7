"""Dataset registry, the common dataset base class, file helpers and the dataset mixer.

* :func:`register_dataset` / :data:`DATASETS` / :func:`build_dataset`: name -> class registry. The five official
  readers (``Human36M``, ``MuCo``, ``MSCOCO``, ``PW3D``, ``FreiHAND``) live in ``data/<Name>/<Name>.py`` and are
  imported on first use.
* :class:`BaseDataset`: the ``__len__`` / ``__getitem__`` flow shared by every reader: a reader only yields its
  :class:`~common.utils.targets.SampleRecord` objects (packed into a compact :class:`~data.datalist.Datalist`) and
  says which pipeline pieces apply (:class:`~common.utils.targets.PipelineSpec`); samples come from
  :mod:`common.utils.targets`. Test samples carry their datalist index (``meta_info['sample_idx']``) and evaluation
  takes explicit indices, so sharded / reordered test runs evaluate every output against its own record.
* :class:`MultipleDatasets` and :func:`build_train_dataset`: datasets.md §6.
* :func:`worker_init_fn`: pass it to every DataLoader (OpenCV single-threaded in the workers).

Importing this module registers one fork hook (``os.register_at_fork``): right before the process forks, OpenCV is
set to one thread, which stops its thread pool, and right after, the parent's thread count is restored. OpenCV's
pthreads pool does not survive ``fork()``: in a child whose parent had started the pool, ``cv2.setNumThreads`` joins
threads that exist only in the parent and never returns (reproduced with DataLoader workers). With the hook a forked
child starts with an idle single-threaded OpenCV, so :func:`worker_init_fn` is safe under every start method.

Reproducibility: nothing uses global random state. Index ``i`` of the training set in epoch ``e`` draws its
augmentation from ``np.random.default_rng([seed, dataset_key, e, i])`` (``i`` = the outermost mixer's index, so a
sample repeated by ``make_same_len`` gets a fresh draw each time; the mixer's random fill likewise), so a sample is
the same whichever DataLoader worker produces it. Call ``set_epoch(e)`` on the training dataset at the start of every
epoch: a training sample requested before any ``set_epoch`` raises ``RuntimeError`` (instead of silently repeating
epoch 0's augmentation); the epoch lives in shared memory, so persistent workers see every later ``set_epoch``.
"""
from __future__ import annotations

import bisect
import importlib
import json
import math
import os
import zlib
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Sequence, TypeVar

import cv2
import numpy as np
import torch.utils.data

from common.utils.human_models import HumanModel
from common.utils.preprocessing import AugParams, draw_aug_params, identity_aug_params, process_bbox
from common.utils.targets import (
    H36M_JOINTS,
    Grid,
    PipelineSpec,
    SampleRecord,
    make_test_sample,
    make_train_sample,
)
from common.utils.transforms import lixel_to_camera
from data.datalist import Datalist

__all__ = [
    "DATASETS",
    "register_dataset",
    "build_dataset",
    "build_train_dataset",
    "BaseDataset",
    "MultipleDatasets",
    "EmptyDatasetError",
    "require_file",
    "load_json",
    "load_coco",
    "load_rootnet",
    "RootNetOutput",
    "load_regressor",
    "sample_rng",
    "SharedEpoch",
    "worker_init_fn",
]

#: name -> dataset class; filled by :func:`register_dataset` when a reader module is imported.
DATASETS: dict[str, type["BaseDataset"]] = {}

#: Where the official readers live (imported lazily by :func:`build_dataset`).
_BUILTIN_MODULES = {name: f"data.{name}.{name}" for name in ("Human36M", "MuCo", "MSCOCO", "PW3D", "FreiHAND")}

D = TypeVar("D", bound=type)


class EmptyDatasetError(RuntimeError):
    """Raised when a dataset's datalist is empty after loading and filtering."""


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


def build_dataset(name: str, cfg: Any, split: str, human_model: HumanModel, **kwargs: Any) -> "BaseDataset":
    """Construct the dataset registered as ``name`` for ``split`` ('train' / 'test'); extra keyword arguments go to
    the class (e.g. ``result_dir`` for FreiHAND)."""
    return _dataset_class(name)(cfg, split, human_model, **kwargs)


class SharedEpoch:
    """The current epoch in shared memory: ``set_epoch`` in the main process is seen by DataLoader workers that
    already exist (``persistent_workers=True``) as well as by new ones. Starts unset (``get()`` is None)."""

    def __init__(self) -> None:
        self._value = torch.full((), -1, dtype=torch.int64).share_memory_()

    def get(self) -> int | None:
        value = int(self._value)
        return None if value < 0 else value

    def set(self, epoch: int) -> None:
        if int(epoch) < 0:
            raise ValueError(f"set_epoch({epoch}): the epoch must be >= 0")
        self._value.fill_(int(epoch))

    def require(self, owner: str) -> int:
        """The epoch; ``RuntimeError`` naming ``owner`` and the fix when it was never set."""
        value = self.get()
        if value is None:
            raise RuntimeError(f"{owner}: the training epoch was never set; call set_epoch(e) on the training dataset "
                               f"at the start of every epoch e (before iterating its DataLoader)")
        return value


def worker_init_fn(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=...)``: OpenCV single-threaded in every worker (torch already is: the DataLoader
    gives each worker one thread). Seeds nothing: augmentation comes from per-sample generators (:func:`sample_rng`)."""
    cv2.setNumThreads(1)


_opencv_threads_at_fork: list[int] = []


def _opencv_idle_before_fork() -> None:
    _opencv_threads_at_fork.append(cv2.getNumThreads())
    cv2.setNumThreads(1)


def _opencv_restore_after_fork() -> None:
    if _opencv_threads_at_fork:
        cv2.setNumThreads(_opencv_threads_at_fork.pop())


os.register_at_fork(before=_opencv_idle_before_fork, after_in_parent=_opencv_restore_after_fork,
                    after_in_child=_opencv_threads_at_fork.clear)


def sample_rng(seed: int, key: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one draw: independent of worker assignment and of the order samples are requested in."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(key), int(epoch), int(index)])


# --------------------------------------------------------------------------------------------------------------------
# File helpers with actionable errors
# --------------------------------------------------------------------------------------------------------------------

def require_file(path: Path, hint: str) -> Path:
    """Return ``path`` if it is a file, else raise ``FileNotFoundError`` saying what to do (``hint``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {hint}, or set --data_dir to the folder holding the datasets")
    return path


def load_json(path: Path, hint: str) -> Any:
    """Read a JSON file, with a clear error when it is missing (``hint``: where to get it) or malformed."""
    require_file(path, hint)
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e}); re-download it ({hint})") from e


def load_coco(path: Path, hint: str) -> Any:
    """``pycocotools.coco.COCO(path)`` (its progress lines are printed as usual) with a clear missing-file error."""
    from pycocotools.coco import COCO

    require_file(path, hint)
    return COCO(str(path))


def coco_from_dict(dataset: dict) -> Any:
    """A ``COCO`` index over an already loaded dict (prints pycocotools' ``creating index...`` lines)."""
    from pycocotools.coco import COCO

    db = COCO()
    db.dataset = dataset
    db.createIndex()
    return db


def load_rootnet(path: Path, key: str, unit: str, hint: str) -> list[dict]:
    """Read a RootNet output file: a list of dicts with ``key`` ('image_id' / 'ann_id'), ``bbox`` [x, y, w, h]
    (already aspect-fixed and extended, used as is) and ``root_cam`` [X, Y, Z] in ``unit`` ('mm' or 'm', quirk Q23).

    Validates every entry (the original would crash later, far from the cause): a missing key or a box without
    positive width/height raises ``ValueError`` naming the file and entry; a median root depth implausible for
    ``unit`` (< 50 for 'mm', > 50 for 'm') raises ``ValueError`` naming the unit mix-up. Returns the list.
    """
    entries = load_json(path, hint)
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON list of RootNet results, got {type(entries).__name__}")
    for n, entry in enumerate(entries):
        for k in (key, "bbox", "root_cam"):
            if k not in entry:
                raise ValueError(f"{path}: entry {n} has no '{k}' (keys: {sorted(entry)})")
        bbox = entry["bbox"]
        if len(bbox) != 4 or not (bbox[2] > 0 and bbox[3] > 0):
            raise ValueError(f"{path}: entry {n} ({key} {entry[key]}) has a degenerate bbox {bbox}; "
                             f"width and height must be positive")
    if entries:
        median_depth = float(np.median([float(e["root_cam"][2]) for e in entries]))
        if (unit == "mm" and median_depth < 50.0) or (unit == "m" and median_depth > 50.0):
            raise ValueError(f"{path}: median root depth {median_depth:g} is implausible for a file in {unit}; "
                             f"this reader expects root_cam in {unit}")
    return entries


def load_regressor(path: Path, num_rows: int, num_vertices: int, hint: str) -> np.ndarray:
    """Read a (num_rows, num_vertices) joint regressor ``.npy`` (e.g. ``J_regressor_h36m_correct.npy``) as float64,
    with clear errors when it is missing or has the wrong shape."""
    require_file(path, hint)
    regressor = np.load(path)
    if regressor.shape != (num_rows, num_vertices):
        raise ValueError(f"{path}: expected a ({num_rows}, {num_vertices}) regressor, got shape {regressor.shape}")
    return regressor.astype(np.float64)


class RootNetOutput:
    """A loaded RootNet file: ``entries`` in file order, and look-up by ``str(entry[key])`` (a later entry for the
    same key overwrites an earlier one, as in the original)."""

    def __init__(self, path: Path, key: str, entries: list[dict]) -> None:
        self.path = Path(path)
        self.key = key
        self.entries = entries
        self._index = {str(e[key]): e for e in entries}

    def box_root(self, key_value: Any) -> tuple[np.ndarray, float]:
        """(bbox (4,) float64 pixels, used as is; root depth ``root_cam[2]`` in the file's unit) of one sample.
        Raises ``KeyError`` naming the file when the sample has no entry."""
        entry = self._index.get(str(key_value))
        if entry is None:
            raise KeyError(f"{self.key} {key_value} has no entry in {self.path}; use a complete RootNet output file "
                           f"(or --use_gt_info where the test set supports it)")
        return np.asarray(entry["bbox"], dtype=np.float64), float(entry["root_cam"][2])


# --------------------------------------------------------------------------------------------------------------------
# Base class
# --------------------------------------------------------------------------------------------------------------------

class BaseDataset(torch.utils.data.Dataset):
    """Common flow of every reader.

    Subclasses set ``name``, ``splits`` (accepted split strings) and ``train_splits`` and implement
    :meth:`load_datalist` (and :meth:`pipeline_spec` when they train). Constructed with (cfg, split, human_model);
    exposes ``vertex_num`` / ``joint_num`` of the human model, ``datalist``, ``__len__``, ``__getitem__`` returning
    (inputs, targets, meta_info) as in datasets.md §0, and ``set_epoch``.
    """

    name: ClassVar[str] = ""
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    train_splits: ClassVar[tuple[str, ...]] = ("train",)
    #: printed before the RootNet file's path when it is loaded
    rootnet_message: ClassVar[str] = "Get bounding box and root from "

    def __init__(self, cfg: Any, split: str, human_model: HumanModel) -> None:
        if split not in self.splits:
            raise ValueError(f"{self.name}: unknown split {split!r}; this dataset supports {list(self.splits)}")
        self.cfg = cfg
        self.split = split
        # CPU layers shared by every dataset of this process (the network moves its own layer to its device)
        self.human_model = human_model.sample_copy()
        self.grid = Grid.from_config(cfg)
        self.root = Path(cfg.data_dir) / self.name
        self.seed = int(cfg.seed)
        self._epoch = SharedEpoch()
        self._rng_key = zlib.crc32(self.name.encode())
        self.prepare()
        self.spec: PipelineSpec | None = self.pipeline_spec() if self.is_train else None
        self.datalist: Datalist = Datalist.from_records(self.load_datalist())
        if not len(self.datalist):
            raise EmptyDatasetError(
                f"{self.name} ({split}): no sample left after loading {self.root} (filters: {self.filter_summary()}); "
                f"check that the annotation files are complete and the split is right"
            )

    # ----- to implement -----------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Load what the pipeline spec and the datalist need (e.g. regressors); called before them."""

    def load_datalist(self) -> Iterable[SampleRecord]:
        """Read this dataset's annotation files into records, in evaluation order (datasets.md §7); a generator
        keeps only the packed datalist in memory."""
        raise NotImplementedError

    def pipeline_spec(self) -> PipelineSpec:
        """Which pipeline pieces apply to training samples."""
        raise NotImplementedError(f"{self.name} has no training branch")

    def filter_summary(self) -> str:
        """A short description of the sample filters, for the empty-dataset error."""
        return "none"

    def test_targets(self, record: SampleRecord) -> dict[str, np.ndarray]:
        """Extra test-time targets (e.g. 3DPW's GT mesh); none by default."""
        return {}

    # ----- common flow ----------------------------------------------------------------------------------------------
    @property
    def is_train(self) -> bool:
        return self.split in self.train_splits

    @property
    def vertex_num(self) -> int:
        return self.human_model.vertex_num

    @property
    def joint_num(self) -> int:
        return self.human_model.joint_num

    def path(self, *parts: str) -> Path:
        """A path under ``<data_dir>/<name>/``."""
        return self.root.joinpath(*parts)

    @property
    def download_hint(self) -> str:
        return f"download the {self.name} files listed in the README's data section and place this one there"

    def read_json(self, *parts: str) -> Any:
        """Load ``<data_dir>/<name>/<parts...>`` (JSON) with an actionable missing-file error."""
        return load_json(self.path(*parts), self.download_hint)

    def read_coco(self, *parts: str) -> Any:
        """``COCO(<data_dir>/<name>/<parts...>)`` with an actionable missing-file error."""
        return load_coco(self.path(*parts), self.download_hint)

    def read_rootnet(self, filename: str, key: str, unit: str) -> RootNetOutput:
        """Load ``rootnet_output/<filename>`` (see :func:`load_rootnet`) and print where boxes and roots come from."""
        path = self.path("rootnet_output", filename)
        entries = load_rootnet(path, key, unit, self.download_hint)
        print(self.rootnet_message + str(path))
        return RootNetOutput(path, key, entries)

    def process_bbox(self, bbox: Sequence[float], img_width: float, img_height: float) -> np.ndarray | None:
        """``process_bbox`` (sanitise, extend to the crop's aspect ratio, x1.25) or None when the box is rejected."""
        return process_bbox(bbox, img_width, img_height, self.grid.aspect_ratio)

    def read_h36m_regressor(self) -> np.ndarray:
        """``<data_dir>/Human36M/J_regressor_h36m_correct.npy`` (17, 6890) float64 (fitting errors, evaluation)."""
        return self.read_regressor("Human36M", "J_regressor_h36m_correct.npy", H36M_JOINTS.num)

    def read_regressor(self, dataset: str, filename: str, num_rows: int) -> np.ndarray:
        """A shipped (num_rows, V) joint regressor stored in ``<data_dir>/<dataset>/<filename>``, float64."""
        path = Path(self.cfg.data_dir) / dataset / filename
        return load_regressor(path, num_rows, self.vertex_num,
                              f"copy {filename} (shipped with I2L-MeshNet in data/{dataset}/) there")

    @property
    def epoch(self) -> int:
        """The current training epoch; ``RuntimeError`` if :meth:`set_epoch` was never called."""
        return self._epoch.require(f"{self.name} ({self.split})")

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of ``epoch`` (call at the start of every training epoch)."""
        self._epoch.set(epoch)

    def __len__(self) -> int:
        return len(self.datalist)

    # ----- evaluation (test sets) -----------------------------------------------------------------------------------
    def evaluate(self, outs: Sequence[dict], indices: Sequence[int] | int) -> dict[str, list]:
        """Per-sample results: ``outs[n]`` (network outputs of one sample, NumPy, batch axis removed) belongs to
        ``datalist[indices[n]]`` (``meta_info['sample_idx']`` of that sample). An int ``indices`` is the index of
        ``outs[0]`` with the rest consecutive (the original's ``cur_sample_idx``). Returns a dict of lists in the
        order of ``outs`` (passed to :meth:`print_eval_result`; :mod:`common.sharded_eval` puts sharded outputs in
        datalist order first)."""
        if isinstance(indices, (int, np.integer)):
            indices = range(int(indices), int(indices) + len(outs))
        indices = [int(i) for i in indices]
        if len(indices) != len(outs):
            raise ValueError(f"{self.name}.evaluate: {len(outs)} outputs but {len(indices)} sample indices")
        result: dict[str, list] = {}
        for out, index in zip(outs, indices):
            if not 0 <= index < len(self.datalist):
                raise IndexError(f"{self.name}.evaluate: sample index {index} outside the test set "
                                 f"(0..{len(self.datalist) - 1})")
            for key, value in self.evaluate_sample(out, self.datalist[index]).items():
                result.setdefault(key, []).append(value)
        return result

    def evaluate_sample(self, out: dict[str, np.ndarray], record: SampleRecord) -> dict[str, Any]:
        """The results of one test sample (nothing by default: a qualitative test set)."""
        return {}

    def print_eval_result(self, eval_result: dict[str, list], print_fn: Callable[[str], object] = print) -> None:
        """Print (through ``print_fn``) and write the final results; nothing by default."""

    def lixel_mesh_cam(self, out: dict[str, np.ndarray], record: SampleRecord, unit_per_m: float,
                       root_depth: float) -> np.ndarray:
        """The lixel mesh ``out['mesh_coord_img']`` (V, 3) hm units back-projected to absolute camera space
        (preprocessing.md §10) with ``out['bb2img_trans']``, ``root_depth`` and S' in the unit given by
        ``unit_per_m`` (1000: mm, 1: m) and the record's camera. Returns (V, 3) float32 in that unit."""
        if record.cam is None:
            raise ValueError(f"{self.name}: test record {record.ids} has no camera")
        return lixel_to_camera(out["mesh_coord_img"], out["bb2img_trans"], root_depth,
                               self.grid.depth_extent(unit_per_m), record.cam.focal, record.cam.princpt,
                               self.grid.input_img_shape, self.grid.output_hm_shape)

    def aug_params(self, draw_index: int) -> AugParams:
        """The augmentation of draw ``draw_index`` in the current epoch (identity for test splits).

        A standalone dataset draws with the sample index; inside :class:`MultipleDatasets` the draw index is the
        mixer's global index, so a sample presented several times in one epoch gets a fresh draw each time.
        """
        if not self.is_train:
            return identity_aug_params()
        assert self.spec is not None
        rng = sample_rng(self.seed, self._rng_key, self.epoch, draw_index)
        return draw_aug_params(rng, True, allow_flip=self.spec.allow_flip)

    def get_sample(self, idx: int, draw_index: int) -> tuple[dict, dict, dict]:
        """Sample ``idx`` of the datalist with augmentation draw ``draw_index`` (see :meth:`aug_params`). Test
        samples' ``meta_info`` also carries ``sample_idx`` (int ``idx``) for :meth:`evaluate`."""
        record = self.datalist[idx]
        try:
            if self.is_train:
                assert self.spec is not None
                return make_train_sample(record, self.aug_params(draw_index), self.human_model, self.spec,
                                         self.grid)
            inputs, targets, meta_info = make_test_sample(record, self.grid, self.test_targets(record))
            meta_info["sample_idx"] = int(idx)
            return inputs, targets, meta_info
        except OSError as e:  # unreadable / missing image: say which sample it was
            raise type(e)(f"{self.name} ({self.split}) sample {idx} {record.ids}: {e}") from e

    def __getitem__(self, idx: int) -> tuple[dict, dict, dict]:
        return self.get_sample(idx, idx)


# --------------------------------------------------------------------------------------------------------------------
# Mixer
# --------------------------------------------------------------------------------------------------------------------

_MIXER_OWNER = "MultipleDatasets (the training set)"


class MultipleDatasets(torch.utils.data.Dataset):
    """Concatenate datasets (``make_same_len=False``) or present each with the longest member's length
    (``make_same_len=True``), exactly as datasets.md §6.

    With ``make_same_len``: length = L_max · n; index i -> member d = i // L_max, j = i mod L_max; if
    j >= len_d · floor(L_max / len_d), j is replaced by a uniform random index in [0, len_d − 1] drawn from
    ``sample_rng(seed, ·, epoch, i)``; otherwise j <- j mod len_d.
    """

    _RNG_KEY = zlib.crc32(b"MultipleDatasets")

    def __init__(self, datasets: Sequence[Any], make_same_len: bool = True, seed: int = 0) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("MultipleDatasets: no dataset given")
        self.make_same_len = bool(make_same_len)
        self.seed = int(seed)
        self._epoch = SharedEpoch()
        self.lengths = [len(d) for d in self.datasets]
        if any(n == 0 for n in self.lengths):
            raise EmptyDatasetError(f"MultipleDatasets: a member dataset is empty (lengths {self.lengths})")
        self.max_len = max(self.lengths)
        self.cum_lengths = list(np.cumsum(self.lengths).tolist())

    @property
    def vertex_num(self) -> int:
        return self.datasets[0].vertex_num

    @property
    def joint_num(self) -> int:
        return self.datasets[0].joint_num

    @property
    def epoch(self) -> int:
        """The current epoch; ``RuntimeError`` if :meth:`set_epoch` was never called."""
        return self._epoch.require(_MIXER_OWNER)

    def set_epoch(self, epoch: int) -> None:
        """Select the random-fill stream of ``epoch`` and pass it on to the members (nested mixers included)."""
        self._epoch.set(epoch)
        for d in self.datasets:
            if hasattr(d, "set_epoch"):
                d.set_epoch(epoch)

    def __len__(self) -> int:
        if self.make_same_len:
            return self.max_len * len(self.datasets)
        return self.cum_lengths[-1]

    def locate(self, index: int) -> tuple[int, int]:
        """Global index -> (member index, local index)."""
        if not 0 <= index < len(self):
            raise IndexError(f"MultipleDatasets: index {index} out of range for length {len(self)}")
        if self.make_same_len:
            d = index // self.max_len
            j = index % self.max_len
            len_d = self.lengths[d]
            if j >= len_d * math.floor(self.max_len / len_d):
                j = int(sample_rng(self.seed, self._RNG_KEY, self.epoch, index).integers(0, len_d))
            else:
                j = j % len_d
            return d, j
        d = bisect.bisect_right(self.cum_lengths, index)
        return d, index - (self.cum_lengths[d - 1] if d > 0 else 0)

    def get_sample(self, index: int, draw_index: int) -> Any:
        """Sample ``index`` with augmentation draw ``draw_index`` passed on to the member that holds it.
        ``RuntimeError`` before the first :meth:`set_epoch`."""
        self._epoch.require(_MIXER_OWNER)
        d, j = self.locate(index)
        member = self.datasets[d]
        return member.get_sample(j, draw_index) if hasattr(member, "get_sample") else member[j]

    def __getitem__(self, index: int) -> Any:
        return self.get_sample(index, index)


def build_train_dataset(cfg: Any, human_model: HumanModel,
                        build: Callable[..., Any] = build_dataset) -> MultipleDatasets:
    """The training set of ``cfg`` (datasets.md §6): 3D list and 2D list each concatenated; both present -> the two
    groups mixed 1:1 with ``make_same_len=True``. ``vertex_num`` / ``joint_num`` come from the first 3D set (else
    the first 2D set)."""
    sets_3d = [build(name, cfg, "train", human_model) for name in cfg.trainset_3d]
    sets_2d = [build(name, cfg, "train", human_model) for name in cfg.trainset_2d]
    seed = int(cfg.seed)
    if sets_3d and sets_2d:
        return MultipleDatasets([MultipleDatasets(sets_3d, False, seed), MultipleDatasets(sets_2d, False, seed)],
                                True, seed)
    if sets_3d:
        return MultipleDatasets(sets_3d, False, seed)
    if sets_2d:
        return MultipleDatasets(sets_2d, False, seed)
    raise ValueError("no training dataset configured: set --trainset_3d and/or --trainset_2d")
