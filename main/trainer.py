"""Training driver (docs/training.md): data, optimiser, schedule, stages, snapshots, exact resume, logging.

One :class:`Trainer` per process (see :mod:`common.launch`).  Semantics kept from the original:

* per-process batch ``train_batch_size`` (per GPU, so BatchNorm groups are the original's per-GPU ones:
  docs/quirks.md#q-per-gpu-batchnorm), shuffled;
* Adam, epoch-indexed learning rate ``lr / lr_dec_factor ** #(lr_dec_epoch <= e)`` (including the hand param
  stage starting decayed: docs/quirks.md#q-hand-param-stage-starts-decayed); each loss averaged over all its
  elements, masked ones included, float64 terms kept, the sum back-propagated, for training parity
  (docs/quirks.md#q-loss-mean-counts-masked, docs/quirks.md#q-float64-masks);
* the stage's trainable modules only (docs/network.md#stages), every module in train mode, so the frozen lixel part's
  BatchNorm statistics still update in the param stage (docs/quirks.md#q-batchnorm-trains-in-param-stage);
* ``snapshot_{epoch}.pth.tar`` after every epoch; ``--continue`` loads the newest one.

Beyond the original: the last incomplete batch is dropped (a one-sample batch crashes BatchNorm1d:
docs/quirks.md#q-single-sample-batchnorm); within a stage ``--continue`` also restores Adam, the gradient scaler and
the RNG states (at the lixel -> param switch, a fresh Adam as the original: docs/quirks.md#q-resume-restarts-adam);
``--save_every_min M`` keeps a rolling mid-epoch file from which ``--continue`` resumes at the next batch; a
non-finite loss stops the run naming the iteration and the loss keys, before any update.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from common.checkpoint import (
    CheckpointError,
    capture_rng_state,
    find_latest_snapshot,
    load_checkpoint_file,
    load_network,
    mid_epoch_path,
    restore_rng_state,
    save_checkpoint,
    snapshot_path,
)
from common.config import Config
from common.distributed import wrap_ddp
from common.launch import DistContext, all_reduce_sum, to_device
from common.logger import Timer, format_train_line, make_logger, progress_bar, report_removed_temporaries
from common.nets.precision import autocast_context, make_grad_scaler
from common.optim import make_optimizer
from common.sampler import EpochSampler
from common.utils.human_models import build_human_model
from data.loader import make_loader, num_workers
from data.mixer import build_train_dataset
from main.networks import build_model_from_config


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; raised before the optimizer step, so no weight and no snapshot changes."""


def lr_at_epoch(cfg: Config, epoch: int) -> float:
    """The learning rate of ``epoch``: ``lr / lr_dec_factor ** k``, k = #(lr_dec_epoch <= epoch).

    See docs/training.md#schedule."""
    k = sum(1 for e in cfg.lr_dec_epoch if e <= epoch)
    return cfg.lr / cfg.lr_dec_factor ** k


class Trainer:
    """Builds data, network and optimizer for ``cfg`` on ``ctx.device`` and trains ``cfg.stage``."""

    def __init__(self, cfg: Config, ctx: DistContext) -> None:
        self.cfg = cfg
        self.ctx = ctx
        self.device = ctx.device
        if ctx.is_main:
            cfg.make_dirs()
        self.logger = make_logger("train", cfg.log_dir / "train_logs.txt" if ctx.is_main else None,
                                  console=ctx.is_main)
        if ctx.is_main:
            report_removed_temporaries(cfg.model_dir, self.logger.info)
        self.writer = None
        if ctx.is_main:
            from torch.utils.tensorboard import SummaryWriter  # imported only where events are written
            self.writer = SummaryWriter(str(cfg.log_dir / "tensorboard" / f"train_{cfg.stage}"))
        self.start_epoch = 0
        self.start_itr = 0
        self._build()

    # ----- construction ---------------------------------------------------------------------------------------
    def _build(self) -> None:
        cfg, ctx = self.cfg, self.ctx
        self.logger.info("Creating dataset...")
        human_model = build_human_model(cfg.is_hand, cfg.human_model_dir)
        self.train_set = build_train_dataset(cfg, human_model)
        self.sampler = EpochSampler(len(self.train_set), ctx.rank, ctx.world_size, shuffle=True, seed=cfg.seed)
        self.itr_per_epoch = self.sampler.per_rank // cfg.train_batch_size
        if self.itr_per_epoch == 0:
            raise ValueError(
                f"the training set has {len(self.train_set)} samples, fewer than one batch per process "
                f"(--train_batch_size {cfg.train_batch_size} x {ctx.world_size} processes); lower --train_batch_size")
        self.loader = make_loader(self.train_set, cfg.train_batch_size, self.sampler, num_workers(cfg, ctx),
                                  self.device, train=True)

        self.logger.info("Creating graph and optimizer...")
        model = build_model_from_config(cfg, human_model)
        if not cfg.continue_train:  # a continued run takes every weight from the snapshot
            model.init_weights(cfg.pretrained_backbone, cfg.random_init)
        model.to(self.device)
        if ctx.distributed and model.channels_last:
            # the fast path's activations are channels-last, so are the conv weights' gradients: DDP's gradient
            # buckets match only when the weights are channels-last too (else a copy and a warning per step)
            model.to(memory_format=torch.channels_last)
        model.train()
        self.model = model
        self.optimizer = make_optimizer(model.trainable_parameters(), cfg.lr)
        self.scaler = make_grad_scaler(self.device, cfg.amp)
        if cfg.continue_train:
            self._resume()
        self.net = wrap_ddp(model, self.device) if ctx.distributed else model
        if cfg.compile:
            self.net = torch.compile(self.net)

    def _resume(self) -> None:
        """Load the newest snapshot (or a newer mid-epoch file of the same stage), restoring the optimizer, scaler
        and RNG states when the file comes from the same stage (docs/training.md#resume)."""
        cfg = self.cfg
        path = find_latest_snapshot(cfg.model_dir)
        mid = mid_epoch_path(cfg.model_dir)
        ckpt = load_checkpoint_file(path) if path is not None else None
        if mid.is_file():
            mid_ckpt = load_checkpoint_file(mid)
            newer = ckpt is None or int(mid_ckpt["epoch"]) > int(ckpt["epoch"])
            if newer and mid_ckpt.get("stage") == cfg.stage:
                path, ckpt = mid, mid_ckpt
        if ckpt is None:
            raise CheckpointError(
                f"--continue: no snapshot_<epoch>.pth.tar in {cfg.model_dir}; train the lixel stage first "
                f"(python train.py --gpu <ids> --stage lixel) or check --output_dir")
        self.logger.info(f"Load checkpoint from {path}")
        load_network(self.model, ckpt["network"], source=str(path))
        mid_epoch = path == mid
        self.start_epoch = int(ckpt["epoch"]) if mid_epoch else int(ckpt["epoch"]) + 1
        self.start_itr = int(ckpt.get("itr", 0)) if mid_epoch else 0
        self._check_seed(ckpt, path, mid_epoch)
        if ckpt.get("stage") == cfg.stage and ckpt.get("optimizer"):
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if ckpt.get("scaler"):
                self.scaler.load_state_dict(ckpt["scaler"])
            if ckpt.get("rng"):
                restore_rng_state(ckpt["rng"])
        else:
            self.logger.info(f"Optimizer state not restored (snapshot stage: {ckpt.get('stage', 'not recorded')}, "
                             f"this run: {cfg.stage}): Adam starts fresh over the {cfg.stage}-stage modules")

    def _check_seed(self, ckpt: dict, path: Path, mid_epoch: bool) -> None:
        """A continued run with another ``--seed`` than the file's: refused mid-epoch (the rest of the epoch would
        visit other samples than the interrupted run), a warning at an epoch boundary (later epochs shuffle and
        augment differently from an uninterrupted run)."""
        saved = (ckpt.get("sampler") or {}).get("seed")
        if saved is None or int(saved) == self.cfg.seed or ckpt.get("stage") != self.cfg.stage:
            return
        if mid_epoch:
            raise CheckpointError(
                f"--continue: the mid-epoch file {path} was written by a run with --seed {saved}, this run has --seed "
                f"{self.cfg.seed}; the rest of the epoch would visit other samples. Continue with --seed {saved}")
        self.logger.warning(f"--seed {self.cfg.seed} differs from the --seed {saved} of {path}: from here on the "
                            f"sample order and augmentation differ from an uninterrupted run")

    # ----- one iteration --------------------------------------------------------------------------------------
    def train_step(self, inputs: dict, targets: dict, meta_info: dict, epoch: int, itr: int) -> dict[str, float]:
        """Forward, reduce, check, backward, step; returns the losses averaged over the processes."""
        inputs, targets, meta_info = (to_device(b, self.device) for b in (inputs, targets, meta_info))
        self.optimizer.zero_grad(set_to_none=True)
        with autocast_context(self.device, self.cfg.amp):
            loss = self.net(inputs, targets, meta_info, "train")
        loss = {k: v.mean() for k, v in loss.items()}
        total = sum(loss.values())
        values = torch.stack([v.detach().double() for v in loss.values()])
        # one collective: the loss sums (for the logged global mean) and the count of non-finite values
        packed = all_reduce_sum(torch.cat([values, (~torch.isfinite(values)).double()]), self.ctx)
        sums, bad = packed[: len(loss)], packed[len(loss):]
        if bool((bad > 0).any()):
            keys = [k for k, b in zip(loss, bad.tolist()) if b > 0]
            raise NonFiniteLossError(
                f"epoch {epoch} itr {itr}: non-finite loss in {keys} (values on this process: "
                f"{ {k: float(v.detach()) for k, v in loss.items()} }); stopped before the update, the snapshots in "
                f"{self.cfg.model_dir} are untouched. Try a lower --lr or --amp fp32, and check the data of this batch")
        self.scaler.scale(total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return {k: float(v) / self.ctx.world_size for k, v in zip(loss, sums.tolist())}

    # ----- files ------------------------------------------------------------------------------------------------
    def _resume_extras(self, epoch: int, itr: int) -> dict[str, Any]:
        return {"stage": self.cfg.stage, "itr": int(itr), "scaler": self.scaler.state_dict(),
                "rng": capture_rng_state(), "sampler": {"seed": int(self.cfg.seed), "epoch": int(epoch)}}

    def save_snapshot(self, epoch: int) -> Path:
        path = snapshot_path(self.cfg.model_dir, epoch)
        save_checkpoint(path, self.model, self.optimizer, epoch, extra=self._resume_extras(epoch, 0))
        self.logger.info(f"Write snapshot into {path}")
        mid = mid_epoch_path(self.cfg.model_dir)
        if mid.is_file():
            mid.unlink()  # superseded by the finished epoch
        return path

    def save_mid_epoch(self, epoch: int, next_itr: int) -> Path:
        path = mid_epoch_path(self.cfg.model_dir)
        save_checkpoint(path, self.model, self.optimizer, epoch, extra=self._resume_extras(epoch, next_itr))
        self.logger.info(f"Write mid-epoch state (epoch {epoch}, next itr {next_itr}) into {path}")
        return path

    # ----- loop -------------------------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> None:
        cfg, ctx = self.cfg, self.ctx
        lr = lr_at_epoch(cfg, epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.train_set.set_epoch(epoch)
        self.sampler.set_epoch(epoch)
        start_itr = self.start_itr if epoch == self.start_epoch else 0
        if start_itr:
            self.sampler.set_start(start_itr * cfg.train_batch_size)
        self.model.train()
        tot_timer, gpu_timer, read_timer = Timer(), Timer(), Timer()
        last_save = time.monotonic()
        progress = progress_bar(ctx.is_main, self.itr_per_epoch, start_itr, f"epoch {epoch}", leave=False)
        tot_timer.tic()
        read_timer.tic()
        for itr, (inputs, targets, meta_info) in enumerate(self.loader, start=start_itr):
            read_timer.toc()
            gpu_timer.tic()
            losses = self.train_step(inputs, targets, meta_info, epoch, itr)
            gpu_timer.toc()
            self.logger.info(format_train_line(epoch, cfg.end_epoch, itr, self.itr_per_epoch, lr, tot_timer.average,
                                               gpu_timer.average, read_timer.average, losses))
            if self.writer is not None:
                step = epoch * self.itr_per_epoch + itr
                self.writer.add_scalar("lr", lr, step)
                for key, value in losses.items():
                    self.writer.add_scalar(f"loss/{key}", value, step)
                self.writer.add_scalar("loss/total", sum(losses.values()), step)
            if progress is not None:
                progress.update(1)
            if ctx.is_main and cfg.save_every_min > 0 and time.monotonic() - last_save >= 60 * cfg.save_every_min:
                self.save_mid_epoch(epoch, itr + 1)
                last_save = time.monotonic()
            tot_timer.toc()
            tot_timer.tic()
            read_timer.tic()
        if progress is not None:
            progress.close()

    def run(self) -> None:
        """Train epochs ``start_epoch .. end_epoch - 1``, writing a snapshot after each (rank 0)."""
        try:
            for epoch in range(self.start_epoch, self.cfg.end_epoch):
                self.train_epoch(epoch)
                if self.ctx.is_main:
                    self.save_snapshot(epoch)
                self.ctx.barrier()
        finally:
            if self.writer is not None:
                self.writer.close()


def run_train_process(ctx: DistContext, cfg: Config) -> None:
    """Entry point of one training process (called through :func:`common.launch.launch`)."""
    torch.backends.cudnn.benchmark = True
    Trainer(cfg, ctx).run()
