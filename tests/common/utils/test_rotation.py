"""6D -> rotation matrix -> axis-angle, against independent NumPy/SciPy math."""
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from common.utils.rotation import rot6d_to_rotmat, rotmat_to_axis_angle


def _gram_schmidt_numpy(v: np.ndarray) -> np.ndarray:
    """The original's layout: (v0..v5) -> columns a1 = (v0, v2, v4), a2 = (v1, v3, v5)."""
    a1, a2 = v[[0, 2, 4]], v[[1, 3, 5]]
    b1 = a1 / max(np.linalg.norm(a1), 1e-12)
    u = a2 - b1.dot(a2) * b1
    b2 = u / max(np.linalg.norm(u), 1e-12)
    return np.stack([b1, b2, np.cross(b1, b2)], axis=1)


def test_rot6d_layout_is_row_major_3x2():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(64, 6))
    got = rot6d_to_rotmat(torch.tensor(v)).numpy()
    want = np.stack([_gram_schmidt_numpy(x) for x in v])
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(got), 1.0, atol=1e-12)


def test_rotmat_to_axis_angle_matches_scipy_on_random_rotations():
    rotvec = Rotation.random(2000, random_state=1).as_rotvec()
    mats = Rotation.from_rotvec(rotvec).as_matrix()
    got = rotmat_to_axis_angle(torch.tensor(mats)).numpy()
    np.testing.assert_allclose(got, rotvec, atol=1e-9)


@pytest.mark.parametrize("rotvec", [
    [0.0, 0.0, 0.0], [1e-7, 0.0, 0.0], [np.pi - 1e-4, 0.0, 0.0], [0.0, np.pi - 1e-3, 0.0],
    [0.0, 0.0, 3.0], [2.0, -1.0, 0.5], [-0.3, 0.2, -2.9],
])
def test_rotmat_to_axis_angle_all_branches_and_edge_cases(rotvec):
    mat = Rotation.from_rotvec(rotvec).as_matrix()
    got = rotmat_to_axis_angle(torch.tensor(mat)[None]).numpy()[0]
    # same rotation (axis-angle is unique for angles < pi)
    np.testing.assert_allclose(Rotation.from_rotvec(got).as_matrix(), mat, atol=1e-6)
    np.testing.assert_allclose(got, rotvec, atol=1e-5)


def test_six_d_to_axis_angle_path_float32_and_gradients():
    rng = np.random.default_rng(2)
    v = torch.tensor(rng.normal(size=(32, 6)), dtype=torch.float32, requires_grad=True)
    aa = rotmat_to_axis_angle(rot6d_to_rotmat(v))
    want = Rotation.from_matrix(np.stack([_gram_schmidt_numpy(x) for x in v.detach().double().numpy()])).as_rotvec()
    np.testing.assert_allclose(aa.detach().numpy(), want, atol=1e-5)
    aa.sum().backward()
    assert torch.isfinite(v.grad).all()


def test_identity_rotation_has_finite_gradient():
    v = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]], requires_grad=True)
    aa = rotmat_to_axis_angle(rot6d_to_rotmat(v))
    assert torch.allclose(aa, torch.zeros(1, 3), atol=1e-7)
    aa.sum().backward()
    assert torch.isfinite(v.grad).all()


def test_degenerate_6d_input_is_clamped_not_nan():
    # the original normalises with max(|v|, 1e-12): a zero column gives zeros, not NaN
    out = rot6d_to_rotmat(torch.zeros(1, 6))
    assert torch.isfinite(out).all()
