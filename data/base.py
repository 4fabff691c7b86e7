"""The common flow of every dataset reader: records in, (inputs, targets, meta_info) samples out, evaluation.

A reader only yields its :class:`~data.records.SampleRecord` objects (packed into a compact
:class:`~data.datalist.Datalist`) and says which pipeline pieces apply (:class:`~data.records.PipelineSpec`);
samples come from :mod:`data.pipeline`.  Test samples carry their datalist index (``meta_info['sample_idx']``) and
evaluation takes explicit indices, so sharded / reordered test runs evaluate every output against its own record.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Sequence

import numpy as np
import torch.utils.data

from common.config import Config
from common.errors import UserError
from common.utils.human_models import HumanModel
from common.utils.preprocessing import AugParams, draw_aug_params, identity_aug_params, process_bbox
from common.utils.transforms import lixel_to_camera
from data.datalist import Datalist
from data.loader import install_fork_guard
from data.pipeline import make_test_sample, make_train_sample
from data.readers import RootNetOutput, load_coco, load_json, load_regressor, load_rootnet
from data.records import H36M_JOINTS, Grid, PipelineSpec, SampleRecord
from data.seeding import SharedEpoch, sample_rng

__all__ = ["BaseDataset", "EmptyDatasetError", "EvalReport"]


class EmptyDatasetError(UserError, RuntimeError):
    """Raised when a dataset's datalist is empty after loading and filtering."""


@dataclass
class EvalReport:
    """What a test set reports after evaluation: ``lines`` to print (the original's result lines), ``scores``
    beyond the per-sample means (e.g. FreiHAND's official scores) and ``files`` (name -> content) to write into
    the result folder (e.g. FreiHAND's ``pred.json``)."""

    lines: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


class BaseDataset(torch.utils.data.Dataset):
    """Common flow of every reader.

    Subclasses set ``name``, ``splits`` (accepted split strings) and ``train_splits`` and implement
    :meth:`load_datalist` (and :meth:`pipeline_spec` when they train). Constructed with (cfg, split, human_model);
    exposes ``vertex_num`` / ``joint_num`` of the human model, ``datalist``, ``__len__``, ``__getitem__`` returning
    (inputs, targets, meta_info) as in docs/data.md#sample-dicts, and ``set_epoch``.
    """

    name: ClassVar[str] = ""
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    train_splits: ClassVar[tuple[str, ...]] = ("train",)
    #: printed before the RootNet file's path when it is loaded
    rootnet_message: ClassVar[str] = "Get bounding box and root from "

    def __init__(self, cfg: Config, split: str, human_model: HumanModel) -> None:
        if split not in self.splits:
            raise ValueError(f"{self.name}: unknown split {split!r}; this dataset supports {list(self.splits)}")
        self.cfg = cfg
        self.split = split
        install_fork_guard()  # any DataLoader over this dataset may fork: keep OpenCV's thread pool out of it
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
        """Read this dataset's annotation files into records, in evaluation order (docs/data.md#ordering); a generator
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
        order of ``outs`` (passed to :meth:`report`; :mod:`common.sharded_eval` puts sharded outputs in
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

    def report(self, eval_result: dict[str, list], result_dir: Path) -> EvalReport:
        """The result lines, extra scores and files of a finished evaluation (``result_dir``: where the caller
        writes ``files``, for lines that name them); nothing by default."""
        return EvalReport()

    def lixel_mesh_cam(self, out: dict[str, np.ndarray], record: SampleRecord, unit_per_m: float,
                       root_depth: float) -> np.ndarray:
        """The lixel mesh ``out['mesh_coord_img']`` (V, 3) hm units back-projected to absolute camera space
        (docs/conventions.md#inverse-mapping) with ``out['bb2img_trans']``, ``root_depth`` and S' in the unit given by
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
