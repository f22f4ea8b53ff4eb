"""Fixtures of the gallery tests: small photo folders, tiny models (random
or trained on the shapes data) and the ``tools/gallery.py`` CLI."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mmcnclip.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CFG = osp.join(REPO, 'configs', 'shapes', 'cn-clip_tiny_shapes.py')
GALLERY = osp.join(REPO, 'tools', 'gallery.py')


def tool_env() -> dict:
    """Environment of a tool subprocess: this checkout first on the path,
    one OpenMP thread."""
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO +
                os.pathsep + os.environ.get('PYTHONPATH', ''))


def gallery_cli(*args, check: bool = True, timeout: int = 600):
    """Run ``tools/gallery.py ARGS``; with ``check`` assert success and
    show the output on failure."""
    out = subprocess.run([sys.executable, GALLERY, *map(str, args)],
                         capture_output=True, text=True, env=tool_env(),
                         cwd=REPO, timeout=timeout)
    if check:
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def write_photos(folder, count: int, seed: int = 0, start: int = 0,
                 size: int = 32) -> list:
    """``count`` distinct small PNGs ``{i:04d}.png`` (in sub-folders)."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(start, start + count):
        sub = osp.join(str(folder), f'd{i % 3}')
        os.makedirs(sub, exist_ok=True)
        pixels = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        path = osp.join(sub, f'{i:04d}.png')
        Image.fromarray(pixels).resize((size, size)).save(path)
        paths.append(path)
    return paths


def random_checkpoint(path, seed: int) -> str:
    """The tiny shapes model with seeded random weights, saved."""
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(TINY_CFG).model)
    torch.save({'state_dict': model.state_dict()}, str(path))
    return str(path)


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
    ``tools/train.py`` (reduced: 1200 images, 150 iterations).

    Returns:
        tuple[str, str]: The shapes data root and the checkpoint.
    """
    tmp = tmp_path_factory.mktemp('shapes')
    root, work, iters = tmp / 'shapes', tmp / 'work', 150
    subprocess.run([sys.executable, osp.join(REPO, 'tools', 'data',
                                             'make_shapes_dataset.py'),
                    str(root), '--train', '1200', '--test', '120', '--seed',
                    '0'], check=True, capture_output=True)
    out = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'), TINY_CFG,
         '--work-dir', str(work), '--cfg-options',
         f'train_dataloader.dataset.data_root={root}',
         f'val_dataloader.dataset.data_root={root}',
         f'test_dataloader.dataset.data_root={root}',
         f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
         f'default_hooks.checkpoint.interval={iters}',
         f'param_scheduler.0.end=20', f'param_scheduler.1.begin=20',
         f'param_scheduler.1.end={iters}'],
        capture_output=True, text=True, env=dict(tool_env(),
                                                 OMP_NUM_THREADS='2'),
        cwd=REPO, timeout=1200)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return str(root), str(work / f'iter_{iters}.pth')
