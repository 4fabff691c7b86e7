"""The I2L-MeshNet model as the drivers run it: stages ``lixel`` / ``param``, modes ``train`` / ``test``.

Network, stages and losses: docs/network.md.  The original's operation order for the same weights:
:mod:`main.reference` (``--exact``).
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from torch import nn

from common.config import STAGES
from common.nets.loss import CoordLoss, EdgeLengthLoss, NormalVectorLoss, ParamLoss
from common.nets.module import LixelHead, ParamRegressor, Pose2Feat, init_head_weights
from common.nets.precision import fp32_region, widen
from common.nets.recompute import run_trunk
from common.nets.resnet import ResNetBackbone
from common.utils.human_models import HumanModel

LIXEL_MODULES = ("pose_backbone", "pose_net", "pose2feat", "mesh_backbone", "mesh_net")
PARAM_MODULES = ("param_regressor",)


class I2LMeshNet(nn.Module):
    """Image (B, 3, 256, 256) RGB in [0, 1] -> lixel joints/mesh (hm units) and, in the param stage, SMPL/MANO mesh.

    Submodules are registered in the order of the official checkpoints.  The body-model layer is registered as
    ``human_model_layer`` so it follows the model's device, but its buffers are not part of ``state_dict()``;
    official-format snapshots add the original's ``human_model_layer.th_*`` buffers (see
    :mod:`common.checkpoint`).

    The computation is fixed at construction: channels-last activations, Pose2Feat contracted separably, only what
    the stage and mode need (:mod:`main.reference` is the original's order).  ``recompute`` (training): store only the
    inputs of the trunk blocks and of the heads' deconvolution stacks and recompute their activations in the backward
    pass (less memory, more compute, the same step to float rounding).
    """

    lixel_head_cls: type[LixelHead] = LixelHead
    pose2feat_cls: type[Pose2Feat] = Pose2Feat
    channels_last = True  # activations (and, under DDP, the conv weights) in channels-last memory format

    def __init__(self, human_model: HumanModel, stage: str = "lixel", resnet_type: int = 50,
                 output_hm_shape: tuple[int, int, int] = (64, 64, 64), sigma: float = 2.5,
                 normal_loss_weight: float = 0.1, use_joint_orig_loss: bool = True, recompute: bool = False) -> None:
        super().__init__()
        if stage not in STAGES:
            raise ValueError(f"stage {stage!r}: choose one of {list(STAGES)}")
        # own copy with its own layer: moving the network to a device must not move the caller's layers
        human_model = human_model.copy_without_layers()
        self.human_model = human_model
        self._stage = stage  # the `stage` property also sets requires_grad; the modules do not exist yet
        self.output_hm_shape = tuple(output_hm_shape)
        self.sigma = sigma
        self.normal_loss_weight = normal_loss_weight
        self.use_joint_orig_loss = use_joint_orig_loss
        self.recompute = recompute
        joint_num, vertex_num = human_model.joint_num, human_model.vertex_num
        depth = self.output_hm_shape[0]

        self.pose_backbone = ResNetBackbone(resnet_type)
        self.pose_net = self.lixel_head_cls(joint_num, depth, recompute=recompute)
        self.pose2feat = self.pose2feat_cls(joint_num, depth)
        self.mesh_backbone = ResNetBackbone(resnet_type)
        self.mesh_net = self.lixel_head_cls(vertex_num, depth, recompute=recompute)
        self.param_regressor = ParamRegressor(joint_num, human_model.orig_joint_num)
        self.human_model_layer = human_model.layer()

        self.coord_loss = CoordLoss()
        self.param_loss = ParamLoss()
        self.normal_loss = NormalVectorLoss(human_model.face)
        self.edge_loss = EdgeLengthLoss(human_model.face)
        self.register_buffer("joint_regressor", torch.as_tensor(human_model.joint_regressor), persistent=False)
        # the vertices the joint regressor reads (its non-zero columns) and its restriction to them (the param-stage
        # training computes only those vertices)
        support = torch.nonzero(self.joint_regressor.abs().sum(dim=0) > 0).flatten()
        self.register_buffer("regressor_support", support, persistent=False)
        self.register_buffer("joint_regressor_support", self.joint_regressor[:, support].clone(), persistent=False)
        self.set_trainable()

    # ----- stage and trainable parameters ---------------------------------------------------------------
    @property
    def stage(self) -> str:
        """``'lixel'`` or ``'param'``; setting it also updates ``requires_grad`` (:meth:`set_trainable`)."""
        return self._stage

    @stage.setter
    def stage(self, stage: str) -> None:
        if stage not in STAGES:
            raise ValueError(f"stage {stage!r}: choose one of {list(STAGES)}")
        self._stage = stage
        self.set_trainable()

    def updated_parameter_names(self) -> set[str]:
        """Names of the parameters the current stage gives a gradient (the ones that get ``requires_grad``).

        lixel: the five lixel modules except ``mesh_backbone.conv1`` / ``bn1`` (the second trunk's stem never
        runs; it is only kept so the key set matches: docs/quirks.md#q-unused-saved-parameters); param:
        ``param_regressor`` (the lixel part runs without gradients).
        """
        names = {f"{module}.{n}" for module in self.trainable_module_names()
                 for n, _ in getattr(self, module).named_parameters()}
        if self.stage == "lixel":
            names -= {f"mesh_backbone.{n}" for n, _ in self.mesh_backbone.named_parameters()
                      if n.startswith(("conv1.", "bn1."))}
        return names

    def set_trainable(self) -> None:
        """``requires_grad`` True exactly for :meth:`updated_parameter_names`, False for every other parameter.

        DistributedDataParallel (without ``find_unused_parameters``) needs every parameter that requires grad to
        get one in each iteration.  Called at construction and whenever :attr:`stage` is set; wrap the model in
        DDP again after a stage change.  Gradients left on parameters that become frozen are dropped.
        """
        updated = self.updated_parameter_names()
        for name, param in self.named_parameters():
            param.requires_grad_(name in updated)
            if name not in updated:
                param.grad = None

    # ----- initialisation -----------------------------------------------------------------------------
    def init_weights(self, pretrained_backbone: str | Path | None = None, random_init: bool = False) -> None:
        """Training initialisation (docs/network.md#initialisation).

        Trunks: torchvision's ImageNet weights (from ``pretrained_backbone`` or the torch hub cache), unless
        ``random_init``, which keeps the construction-time init (conv ~ N(0, 0.001), BN (1, 0)).
        Heads: the original's init; Conv1d / BatchNorm1d keep PyTorch defaults, for training parity
        (docs/quirks.md#q-1d-layers-default-init).
        """
        if not random_init:
            for trunk in (self.pose_backbone, self.mesh_backbone):
                trunk.load_imagenet_weights(pretrained_backbone)
                print("Initialize resnet from model zoo")
        for name in ("pose_net", "pose2feat", "mesh_net", "param_regressor"):
            getattr(self, name).apply(init_head_weights)

    def trainable_module_names(self) -> tuple[str, ...]:
        """Modules whose parameters the optimizer gets in the current stage (docs/network.md#stages)."""
        return LIXEL_MODULES if self.stage == "lixel" else PARAM_MODULES

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The optimizer's parameter list, exactly the original's (lixel: the five lixel modules, 360 tensors,
        including the never-updated ``mesh_backbone.conv1`` / ``bn1``; param: ``param_regressor``, 12 tensors), so
        Adam state dicts stay interchangeable with the original's."""
        return [p for name in self.trainable_module_names() for p in getattr(self, name).parameters()]

    # ----- forward --------------------------------------------------------------------------------------
    def regress_joints(self, mesh: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) -> (B, J, 3) with the I2L joint regressor (29 x 6890 body / 21 x 778 hand), in float32."""
        with fp32_region(mesh):
            return torch.matmul(self.joint_regressor, widen(mesh))

    def forward_lixel(self, img: torch.Tensor, regress: bool = True,
                      joints_only: bool = False) -> dict[str, torch.Tensor]:
        """Image -> ``joint_coord_img`` (B, J, 3), ``mesh_coord_img`` (B, V, 3), ``joint_img_from_mesh`` (B, J, 3).

        ``regress`` False leaves out ``joint_img_from_mesh``.  ``joints_only``: compute only the vertices the joint
        regressor uses and return ``joint_img_from_mesh`` without ``mesh_coord_img``.
        """
        img = img.contiguous(memory_format=torch.channels_last)
        shared_img_feat, pose_img_feat = run_trunk(self.pose_backbone, img, False, self.recompute)
        joint_coord_img = self.pose_net(pose_img_feat)
        shared_img_feat = self.pose2feat(shared_img_feat, joint_coord_img, self.sigma)
        _, mesh_img_feat = run_trunk(self.mesh_backbone, shared_img_feat, True, self.recompute)
        out = {"joint_coord_img": joint_coord_img}
        if joints_only:
            mesh_support = self.mesh_net(mesh_img_feat, self.regressor_support)  # (B, S, 3)
            with fp32_region(mesh_support):
                out["joint_img_from_mesh"] = torch.matmul(self.joint_regressor_support, widen(mesh_support))
            return out
        out["mesh_coord_img"] = self.mesh_net(mesh_img_feat)
        if regress:
            out["joint_img_from_mesh"] = self.regress_joints(out["mesh_coord_img"])
        return out

    def forward_param(self, joint_img_from_mesh: torch.Tensor) -> dict[str, torch.Tensor]:
        """Lixel joints (hm units) -> pose/shape parameters and the root-relative param mesh, all in float32.

        ``mesh_coord_cam`` / ``joint_coord_cam``: metres (SMPL) or millimetres (MANO), root-relative.
        """
        with fp32_region(joint_img_from_mesh):
            pose_param, shape_param = self.param_regressor(widen(joint_img_from_mesh.detach()))
            mesh_coord_cam, _ = self.human_model.forward(pose_param, shape_param, layer=self.human_model_layer)
            mesh_coord_cam = widen(mesh_coord_cam)
            joint_coord_cam = self.regress_joints(mesh_coord_cam)
            root = joint_coord_cam[:, self.human_model.root_joint_idx, None, :]
            return {"pose_param": pose_param, "shape_param": shape_param,
                    "mesh_coord_cam": mesh_coord_cam - root, "joint_coord_cam": joint_coord_cam - root}

    def forward(self, inputs: dict, targets: dict, meta_info: dict, mode: str) -> dict[str, torch.Tensor]:
        """``mode='train'``: dict of unreduced losses; ``mode='test'``: the outputs ``joint_coord_img`` (B, J, 3) and
        ``mesh_coord_img`` (B, V, 3) in hm units and, in the param stage, ``mesh_coord_cam`` (B, V, 3), root-relative,
        metres (SMPL) / millimetres (MANO), with the parameters it comes from, ``pose_param`` (B, 72 / 48)
        axis-angle and ``shape_param`` (B, 10).

        Only what the stage and mode need is computed: no joint regression from the lixel mesh in lixel-stage
        testing, only the regressor's vertices in param-stage training.
        """
        if mode not in ("train", "test"):
            raise ValueError(f"mode {mode!r}: expected 'train' or 'test'")
        param = self.stage == "param"
        lixel_context = torch.no_grad() if param else contextlib.nullcontext()
        with lixel_context:
            out = self.forward_lixel(inputs["img"], regress=param or mode == "train",
                                     joints_only=param and mode == "train")
        if param:
            out.update(self.forward_param(out["joint_img_from_mesh"]))
        if mode == "train":
            return self.losses(out, targets, meta_info)
        result = {"joint_coord_img": out["joint_coord_img"], "mesh_coord_img": out["mesh_coord_img"]}
        if param:
            for key in ("mesh_coord_cam", "pose_param", "shape_param"):
                result[key] = out[key]
        return result

    def losses(self, out: dict, targets: dict, meta_info: dict) -> dict[str, torch.Tensor]:
        """Unreduced, mask-multiplied losses, computed outside autocast; key order = logging order.

        Keys and masks: docs/network.md#losses. float32 predictions; float64 where the masks are float64
        (``is_valid_fit`` / ``is_3D``, kept as the original: docs/quirks.md#q-float64-masks).
        """
        with fp32_region(out["joint_coord_img"]):
            return self._losses({k: widen(v) for k, v in out.items()}, targets, meta_info)

    def _losses(self, out: dict, targets: dict, meta_info: dict) -> dict[str, torch.Tensor]:
        is_valid_fit = meta_info["is_valid_fit"]
        is_3d = meta_info["is_3D"]
        fit_valid = is_valid_fit[:, None, None]
        loss: dict[str, torch.Tensor] = {}
        if self.stage == "lixel":
            fit_joint_mask = meta_info["fit_joint_trunc"] * fit_valid
            fit_mesh_mask = meta_info["fit_mesh_trunc"] * fit_valid
            joint_img, mesh_img = out["joint_coord_img"], out["mesh_coord_img"]
            joint_from_mesh = out["joint_img_from_mesh"]
            loss["joint_fit"] = self.coord_loss(joint_img, targets["fit_joint_img"], fit_joint_mask)
            if self.use_joint_orig_loss:
                loss["joint_orig"] = self.coord_loss(joint_img, targets["orig_joint_img"],
                                                     meta_info["orig_joint_trunc"], is_3d)
            loss["mesh_fit"] = self.coord_loss(mesh_img, targets["fit_mesh_img"], fit_mesh_mask)
            if self.use_joint_orig_loss:
                loss["mesh_joint_orig"] = self.coord_loss(joint_from_mesh, targets["orig_joint_img"],
                                                          meta_info["orig_joint_trunc"], is_3d)
            loss["mesh_joint_fit"] = self.coord_loss(joint_from_mesh, targets["fit_joint_img"], fit_joint_mask)
            loss["mesh_normal"] = self.normal_loss(mesh_img, targets["fit_mesh_img"], fit_mesh_mask) \
                * self.normal_loss_weight
            loss["mesh_edge"] = self.edge_loss(mesh_img, targets["fit_mesh_img"], fit_mesh_mask)
        else:
            loss["pose_param"] = self.param_loss(out["pose_param"], targets["pose_param"], is_valid_fit[:, None])
            loss["shape_param"] = self.param_loss(out["shape_param"], targets["shape_param"], is_valid_fit[:, None])
            loss["joint_orig_cam"] = self.coord_loss(out["joint_coord_cam"], targets["orig_joint_cam"],
                                                     meta_info["orig_joint_valid"] * is_3d[:, None, None])
            loss["joint_fit_cam"] = self.coord_loss(out["joint_coord_cam"], targets["fit_joint_cam"], fit_valid)
        return loss
