"""Shared fixtures, built once per test session: synthetic SMPL/MANO model files (official format), the synthetic
datasets, the full-size networks (read under a guard, or copied) and a body snapshot."""
import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A folder with synthetic SMPL (3 genders), MANO_RIGHT.pkl and the two body regressors."""
    from tools.synthetic.body_models import write_all

    out = tmp_path_factory.mktemp("human_model_files")
    write_all(out, seed=0)
    return out


@pytest.fixture(scope="session")
def synthetic_data_dir(tmp_path_factory, model_dir) -> Path:
    """The five synthetic mini-datasets (test size, with label masks) in the official layouts, written once."""
    from tools.synthetic.datasets import write_datasets

    out = tmp_path_factory.mktemp("data")
    write_datasets(out, model_dir, seed=0, size="test", save_masks=True)
    return out


@pytest.fixture(scope="session")
def smpl(model_dir):
    from common.utils.human_models import SMPL

    return SMPL(model_dir)


@pytest.fixture(scope="session")
def mano(model_dir):
    from common.utils.human_models import MANO

    return MANO(model_dir)


# ----- the full-size networks: built once, read or copied by the tests ----------------------------------------------
# A 137M (hand) / 142M (body) parameter network is built once per session.  A test that only reads one takes the
# session's network (``*_readonly``), guarded: writing any of its tensors or changing its stage or mode is an error at
# teardown.  A test that changes a network (loads, trains, switches stage or mode) takes a private deep copy, so what
# one test does to its network cannot make another test pass.  (A copy writes 0.55 GB, as a build does: 0.2 to 1 s
# on 2 CPU cores, depending on the load.)

def _build_network(human_model, seed: int):
    """I2LMeshNet (lixel stage, train mode) with the weights of ``torch.manual_seed(seed)``, leaving the global RNG
    as it was (the session fixtures must not make later tests depend on the order they run in)."""
    from main.model import I2LMeshNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return I2LMeshNet(human_model, stage="lixel")


def network_fingerprint(net: torch.nn.Module) -> tuple:
    """Stage, every submodule's mode and, per parameter and buffer, (storage, in-place version counter,
    requires_grad, has grad): any write to a tensor (``copy_``, ``add_``, an optimizer step, ``load_state_dict``) bumps
    its version counter."""
    tensors = [*net.parameters(), *net.buffers()]
    return (getattr(net, "stage", None), [m.training for m in net.modules()],
            [(t.data_ptr(), t._version, t.requires_grad, t.grad is not None) for t in tensors])


def _readonly(net: torch.nn.Module) -> Iterator[torch.nn.Module]:
    before = network_fingerprint(net)
    yield net
    assert network_fingerprint(net) == before, "the test changed the session's network: take a copy (hand_net, ...)"


@pytest.fixture(scope="session")
def hand_net_original(mano):
    """The hand network of seed 0 (lixel stage, train mode), built once; tests take :func:`hand_net_readonly` or a
    copy."""
    return _build_network(mano, seed=0)


@pytest.fixture(scope="session")
def body_net_original(smpl):
    """The body network of seed 0 (lixel stage, train mode), built once; tests take :func:`body_net_readonly`, a
    copy or its snapshot."""
    return _build_network(smpl, seed=0)


@pytest.fixture
def hand_net_readonly(hand_net_original) -> Iterator[torch.nn.Module]:
    """The session's seed-0 hand network itself, for tests that only read it (guarded, see above)."""
    yield from _readonly(hand_net_original)


@pytest.fixture
def body_net_readonly(body_net_original) -> Iterator[torch.nn.Module]:
    """The session's seed-0 body network itself, for tests that only read it (guarded, see above)."""
    yield from _readonly(body_net_original)


@pytest.fixture
def hand_net_factory(hand_net_original) -> Callable[[], torch.nn.Module]:
    """Makes independent copies of the seed-0 hand network (lixel stage, train mode), one per call."""
    return lambda: copy.deepcopy(hand_net_original)


@pytest.fixture
def hand_net(hand_net_factory) -> torch.nn.Module:
    """A private copy of the seed-0 hand network (lixel stage, train mode, no gradients)."""
    return hand_net_factory()


@pytest.fixture
def body_net(body_net_original) -> torch.nn.Module:
    """A private copy of the seed-0 body network (lixel stage, train mode, no gradients)."""
    return copy.deepcopy(body_net_original)


@pytest.fixture(scope="session")
def body_snapshot_file(body_net_original, tmp_path_factory) -> Path:
    """``snapshot_7.pth.tar`` of the seed-0 body network (official format, no optimizer state, no ``stage`` entry),
    written once; tests take it through :func:`body_snapshot`."""
    from common.checkpoint import save_checkpoint, snapshot_path

    path = save_checkpoint(snapshot_path(tmp_path_factory.mktemp("body_snapshot"), 7), body_net_original, None, 7)
    path.chmod(0o444)
    return path


@pytest.fixture
def body_snapshot(body_snapshot_file) -> Iterator[Path]:
    """The session's body snapshot; a test that rewrites or replaces it errors (read-only mode does not stop root,
    so the file's identity is compared after the test)."""
    before = _identity(body_snapshot_file)
    yield body_snapshot_file
    assert _identity(body_snapshot_file) == before, f"the test changed the shared {body_snapshot_file}"


def _identity(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns
