"""Each loss against values computed by hand on tiny tensors."""
import numpy as np
import torch

from common.nets.loss import CoordLoss, EdgeLengthLoss, NormalVectorLoss, ParamLoss


def test_coord_loss_masks_and_is_3d_on_z_only():
    out = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]])
    gt = torch.tensor([[[0.0, 0.0, 0.0], [1.0, -1.0, 2.0]]])
    valid = torch.tensor([[[1.0], [0.5]]])
    np.testing.assert_allclose(CoordLoss()(out, gt, valid).numpy(), [[[1, 2, 3], [0.5, 0.5, 1.0]]])
    with_3d = CoordLoss()(out, gt, valid, torch.tensor([0.0]))
    np.testing.assert_allclose(with_3d.numpy(), [[[1, 2, 0], [0.5, 0.5, 0.0]]])
    # the mean over all elements counts the masked entries too (docs/quirks.md#q-loss-mean-counts-masked)
    assert abs(with_3d.mean().item() - (1 + 2 + 0.5 + 0.5) / 6) < 1e-7


def test_coord_loss_float64_masks_give_float64_loss():
    loss = CoordLoss()(torch.ones(2, 3, 3), torch.zeros(2, 3, 3), torch.ones(2, 3, 1),
                       torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert loss.dtype == torch.float64 and loss[1, :, 2].abs().sum() == 0


def test_param_loss():
    got = ParamLoss()(torch.tensor([[1.0, -2.0], [3.0, 4.0]]), torch.tensor([[0.0, 0.0], [1.0, 1.0]]),
                      torch.tensor([[1.0], [0.0]]))
    np.testing.assert_allclose(got.numpy(), [[1.0, 2.0], [0.0, 0.0]])


FACE = np.array([[0, 1, 2], [0, 2, 3]])


def test_normal_vector_loss_hand_computed():
    # GT: two faces in the z=0 plane, normal (0, 0, +-1).  Prediction lifts vertex 2 to z=1.
    gt = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]])
    out = gt.clone()
    out[0, 2, 2] = 1.0
    valid = torch.ones(1, 4, 1)
    loss = NormalVectorLoss(FACE)(out, gt, valid)
    assert loss.shape == (1, 6, 1)
    # face 0: e1 = v1-v0 = (1,0,0) -> 0; e2 = v2-v0 = (1,1,1)/sqrt3 -> 1/sqrt3; e3 = v2-v1 = (0,1,1)/sqrt2 -> 1/sqrt2
    # face 1: e1 = v2-v0 = (1,1,1)/sqrt3; e2 = v3-v0 = (0,1,0) -> 0; e3 = v3-v2 = (-1,0,-1)/sqrt2 -> 1/sqrt2
    want = [0.0, 1 / np.sqrt(3), 1 / np.sqrt(3), 0.0, 1 / np.sqrt(2), 1 / np.sqrt(2)]
    np.testing.assert_allclose(loss[0, :, 0].numpy(), want, atol=1e-6)
    # ordering: [edge1 of all faces, edge2 of all faces, edge3 of all faces]; masks multiply per face
    valid[0, 3] = 0.0
    masked = NormalVectorLoss(FACE)(out, gt, valid)[0, :, 0].numpy()
    np.testing.assert_allclose(masked, [0.0, 0.0, 1 / np.sqrt(3), 0.0, 1 / np.sqrt(2), 0.0], atol=1e-6)


def test_edge_length_loss_hand_computed():
    gt = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]])
    out = gt * 2.0  # every edge doubles
    valid = torch.ones(1, 4, 1)
    loss = EdgeLengthLoss(FACE)(out, gt, valid)[0, :, 0].numpy()
    # face 0 edges (0,1)=1, (0,2)=sqrt2, (1,2)=1 ; face 1 edges (0,2)=sqrt2, (0,3)=1, (2,3)=1
    np.testing.assert_allclose(loss, [1.0, np.sqrt(2), np.sqrt(2), 1.0, 1.0, 1.0], atol=1e-6)
    valid[0, 1] = 0.0  # kills pairs touching vertex 1: face0 (0,1) and (1,2)
    loss = EdgeLengthLoss(FACE)(out, gt, valid)[0, :, 0].numpy()
    np.testing.assert_allclose(loss, [0.0, np.sqrt(2), np.sqrt(2), 1.0, 0.0, 1.0], atol=1e-6)
