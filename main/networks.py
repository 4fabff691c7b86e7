"""Build the network a run asks for: the fast path (:class:`main.model.I2LMeshNet`, the default) or the original's
operation order (:class:`main.reference.ReferenceI2LMeshNet`, ``--exact``)."""
from __future__ import annotations

from common.config import Config
from common.utils.human_models import HumanModel
from main.model import I2LMeshNet
from main.reference import ReferenceI2LMeshNet


def build_model(human_model: HumanModel, stage: str, resnet_type: int = 50,
                output_hm_shape: tuple[int, int, int] = (64, 64, 64), sigma: float = 2.5,
                normal_loss_weight: float = 0.1, use_joint_orig_loss: bool = True, recompute: bool = False,
                exact: bool = False) -> I2LMeshNet:
    """The network with its construction-time initialisation; ``exact``: the original's operation order
    (:class:`main.reference.ReferenceI2LMeshNet`).  Training initialisation: :meth:`I2LMeshNet.init_weights`."""
    if exact:
        return ReferenceI2LMeshNet(human_model, stage, resnet_type, output_hm_shape, sigma, normal_loss_weight,
                                   use_joint_orig_loss, recompute=recompute)
    return I2LMeshNet(human_model, stage, resnet_type, output_hm_shape, sigma, normal_loss_weight,
                      use_joint_orig_loss, recompute=recompute)


def build_model_from_config(cfg: Config, human_model: HumanModel) -> I2LMeshNet:
    """:func:`build_model` with the settings of a :class:`common.config.Config` (no training initialisation)."""
    return build_model(human_model, cfg.stage, cfg.resnet_type, cfg.output_hm_shape, cfg.sigma,
                       cfg.normal_loss_weight, cfg.use_joint_orig_loss, cfg.recompute, cfg.exact)
