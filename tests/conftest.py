"""Shared fixtures: synthetic SMPL/MANO model files (official format) generated once per test session."""
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
