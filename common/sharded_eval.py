"""Evaluation of a test set run in shards: per-sample outputs keyed by their datalist index, gathered in order.

A ``DistributedSampler``-style sampler gives process r of W the indices r, r + W, ... (padded with repeats of the
first indices), and a shuffled or resumed run visits them in any order. Test samples therefore carry their datalist
index (``meta_info['sample_idx']``), and evaluation goes through these steps::

    samples = []                                                     # on every process
    for inputs, targets, meta_info in loader:
        out = evaluation_inputs(model(inputs, targets, meta_info, "test"), targets, meta_info)
        samples += batch_to_samples(out, meta_info["sample_idx"])    # [(index, {key: (...) NumPy array})]
    gathered = gather_samples(samples, expected_len=len(test_set))   # rank 0: sorted, de-duplicated; else None
    if gathered is not None:
        indices, outs = gathered
        eval_result = test_set.evaluate(outs, indices)               # dict of per-sample lists, datalist order
        report = test_set.report(eval_result, result_dir)             # result lines, scores, files

The metrics, printed lines and files (FreiHAND ``pred.json``) then equal those of a single ordered run. Gathering
outputs keeps them all in memory until the end (too much for 3DPW's tens of thousands of samples with full meshes).
The lean alternative evaluates batch by batch on every process and gathers only the per-sample results::

    results += evaluate_samples(test_set, batch_to_samples(out, meta_info["sample_idx"]))   # in the loop
    gathered = gather_samples(results, expected_len=len(test_set))
    if gathered is not None:
        report = test_set.report(merge_results(gathered[1]), result_dir)
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["batch_to_samples", "gather_samples", "evaluate_samples", "merge_results"]


def batch_to_samples(out: Mapping[str, torch.Tensor | np.ndarray],
                     sample_idx: torch.Tensor | np.ndarray | Sequence[int]) -> list[tuple[int, dict[str, np.ndarray]]]:
    """Split a batch of network outputs into per-sample NumPy dicts, each paired with its datalist index.

    ``out``: name -> (B, ...) tensor (any device) or array; ``sample_idx``: (B,) ints (the collated
    ``meta_info['sample_idx']``). Returns [(index, {name: (...) array})] in batch order; every array is a copy
    (float16 / bfloat16 tensors are widened to float32, exactly).
    """
    indices = [int(i) for i in (sample_idx.tolist() if hasattr(sample_idx, "tolist") else sample_idx)]
    arrays: dict[str, np.ndarray] = {}
    for key, value in out.items():
        if isinstance(value, torch.Tensor):
            value = value.detach()
            if value.dtype in (torch.float16, torch.bfloat16):
                value = value.float()
            value = value.cpu().numpy()
        value = np.asarray(value)
        if value.ndim == 0 or value.shape[0] != len(indices):
            raise ValueError(f"batch_to_samples: output '{key}' has shape {tuple(value.shape)}, expected a leading "
                             f"batch axis of {len(indices)} (the number of sample indices)")
        arrays[key] = value
    return [(index, {key: value[n].copy() for key, value in arrays.items()}) for n, index in enumerate(indices)]


def gather_samples(samples: Sequence[tuple[int, Any]], dst: int = 0,
                   expected_len: int | None = None) -> tuple[list[int], list[Any]] | None:
    """Collect every process's (index, item) pairs on rank ``dst``; keep the first item of each index (padding
    repeats a few samples) and sort by index.

    With ``torch.distributed`` initialised this is a collective (every rank must call it; items are pickled;
    ``gather_object`` on NCCL needs ``torch.cuda.set_device`` of the rank's GPU first); otherwise the local list is
    used as it is. ``expected_len``: when given, the gathered indices must be exactly 0 .. expected_len - 1
    (``ValueError`` listing the missing or unexpected ones otherwise). Returns (indices, items) on ``dst`` and None on
    every other rank.
    """
    local = [(int(index), item) for index, item in samples]
    if dist.is_available() and dist.is_initialized():
        parts: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == dst else None
        dist.gather_object(local, parts, dst=dst)
        if parts is None:
            return None
    else:
        parts = [local]
    by_index: dict[int, Any] = {}
    for part in parts:
        for index, item in part:
            by_index.setdefault(index, item)
    indices = sorted(by_index)
    if expected_len is not None and indices != list(range(expected_len)):
        present = set(indices)
        missing = [i for i in range(expected_len) if i not in present]
        extra = [i for i in indices if not 0 <= i < expected_len]
        raise ValueError(f"gather_samples: expected every index 0..{expected_len - 1} once; missing {missing[:10]}"
                         f"{' ...' if len(missing) > 10 else ''} ({len(missing)}), outside the range {extra[:10]}; "
                         f"check that the sampler covers the whole test set on every rank")
    return indices, [by_index[i] for i in indices]


def evaluate_samples(dataset: Any, samples: Sequence[tuple[int, Mapping[str, np.ndarray]]],
                     ) -> list[tuple[int, dict[str, Any]]]:
    """(index, per-sample result) pairs of ``dataset.evaluate`` (e.g. {'mpjpe_lixel': float, ...}) for (index,
    output) pairs, evaluated one by one against each sample's own record."""
    results = []
    for index, out in samples:
        result = dataset.evaluate([out], [index])
        results.append((index, {key: values[0] for key, values in result.items()}))
    return results


def merge_results(results: Sequence[Mapping[str, Any]]) -> dict[str, list]:
    """Per-sample result dicts (in order) -> the dict of lists a test set's ``report`` takes."""
    merged: dict[str, list] = {}
    for result in results:
        for key, value in result.items():
            merged.setdefault(key, []).append(value)
    return merged
