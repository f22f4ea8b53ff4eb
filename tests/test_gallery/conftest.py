"""Fixtures of the gallery tests: tiny models, random or trained on the
shapes data."""
import pytest
from helpers.gallery import TINY_CFG, random_checkpoint
from helpers.processes import run_tool


@pytest.fixture(scope='session')
def tiny_ckpt(tmp_path_factory):
    """A random-weight checkpoint of the tiny shapes config."""
    return random_checkpoint(tmp_path_factory.mktemp('ckpt') / 'a.pth', 0)


@pytest.fixture(scope='session')
def other_ckpt(tmp_path_factory):
    """Another random-weight checkpoint of the same architecture."""
    return random_checkpoint(tmp_path_factory.mktemp('ckpt') / 'b.pth', 1)


@pytest.fixture(scope='session')
def trained_shapes(tmp_path_factory):
    """The shapes data and the tiny model trained on it with
    ``tools/train.py``, reduced (1200 images, 150 iterations of 64; about
    half a minute on a quiet 2-core machine).

    Returns:
        tuple[str, str]: The shapes data root and the checkpoint.
    """
    tmp = tmp_path_factory.mktemp('shapes')
    root, work, iters = tmp / 'shapes', tmp / 'work', 150
    run_tool('data/make_shapes_dataset.py', root, '--train', '1200',
             '--test', '120', '--seed', '0')
    run_tool('train.py', TINY_CFG, '--work-dir', work, '--cfg-options',
             f'train_dataloader.dataset.data_root={root}',
             f'val_dataloader.dataset.data_root={root}',
             f'test_dataloader.dataset.data_root={root}',
             f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
             f'default_hooks.checkpoint.interval={iters}',
             'param_scheduler.0.end=20', 'param_scheduler.1.begin=20',
             f'param_scheduler.1.end={iters}')
    return str(root), str(work / f'iter_{iters}.pth')
