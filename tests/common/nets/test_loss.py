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
# a face's three edges as (from corner, to corner): e1 = v1 - v0, e2 = v2 - v0, e3 = v2 - v1 (docs/network.md#losses)
EDGES = ((0, 1), (0, 2), (1, 2))


def face_losses_reference(out, gt, valid, face) -> tuple[np.ndarray, np.ndarray]:
    """The normal-vector and edge-length terms of docs/network.md#losses, written out in float64 NumPy.

    ``out`` / ``gt`` (B, V, 3), ``valid`` (B, V, 1), ``face`` (F, 3) -> (normal, edge), each (B, 3F, 1) in edge-major
    order [edge 1 of every face, edge 2 of every face, edge 3 of every face].  Normal term of edge k of face f:
    |unit(predicted edge k) . n_gt(f)| x the product of the face's three vertex masks, with
    n_gt = unit(unit(g1 - g0) x unit(g2 - g0)); edge term: |predicted length - GT length| x the masks of its two ends.
    """
    out, gt, valid = (np.asarray(a, dtype=np.float64) for a in (out, gt, valid))
    face = np.asarray(face)

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    o, g, m = out[:, face], gt[:, face], valid[:, face, 0]  # (B, F, corner, 3), (B, F, corner, 3), (B, F, corner)
    normal_gt = unit(np.cross(unit(g[:, :, 1] - g[:, :, 0]), unit(g[:, :, 2] - g[:, :, 0])))  # (B, F, 3)
    face_mask = m[:, :, 0] * m[:, :, 1] * m[:, :, 2]
    normal, edge = [], []
    for a, b in EDGES:
        normal.append(np.abs((unit(o[:, :, b] - o[:, :, a]) * normal_gt).sum(axis=-1)) * face_mask)
        length_out = np.linalg.norm(o[:, :, b] - o[:, :, a], axis=-1)
        length_gt = np.linalg.norm(g[:, :, b] - g[:, :, a], axis=-1)
        edge.append(np.abs(length_out - length_gt) * m[:, :, a] * m[:, :, b])
    return np.concatenate(normal, axis=1)[..., None], np.concatenate(edge, axis=1)[..., None]


def _random_mesh_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]:
    """Two float64 samples of a random 9-vertex, 14-face mesh (distinct corners in random order), the GT a perturbed
    copy of the prediction, masks 0 / 0.5 / 1 per vertex."""
    rng = np.random.default_rng(seed)
    face = np.stack([rng.choice(9, size=3, replace=False) for _ in range(14)])
    out = rng.uniform(0, 64, size=(2, 9, 3))
    gt = out + rng.normal(0, 3, size=out.shape)
    valid = rng.choice([0.0, 0.5, 1.0], size=(2, 9, 1), p=[0.2, 0.2, 0.6])
    return torch.from_numpy(out), torch.from_numpy(gt), torch.from_numpy(valid), face


def test_face_losses_equal_the_written_out_definition_on_random_meshes():
    """Every (sample, edge, face) term, with partial masks, against :func:`face_losses_reference`: a swapped corner,
    a wrong pair mask or another edge order changes some of them."""
    for seed in range(3):
        out, gt, valid, face = _random_mesh_batch(seed)
        want_normal, want_edge = face_losses_reference(out, gt, valid, face)
        normal = NormalVectorLoss(face)(out, gt, valid)
        edge = EdgeLengthLoss(face)(out, gt, valid)
        assert normal.shape == edge.shape == (2, 3 * len(face), 1)
        np.testing.assert_allclose(normal.numpy(), want_normal, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(edge.numpy(), want_edge, rtol=1e-12, atol=1e-12)
        # the data exercise the definition: partial masks, masked terms and large unmasked ones
        assert (valid == 0.5).any() and (want_edge == 0).any() and (want_edge > 1).any() and (want_normal > 0.1).any()


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
