"""Helpers and fixtures of the gallery tests (tests/test_gallery): small
photo folders, tiny models (random or trained on the shapes data) and the
``tools/gallery.py`` CLI. A pytest plugin of tests/conftest.py
(``pytest_plugins``), so the fixtures need no nested conftest.py."""
import os
import os.path as osp
import selectors
import sys
import time

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mmcnclip.registry import MODELS
from .processes import REPO, TIMEOUT, run, run_tool

TINY_CFG = osp.join(REPO, 'configs', 'shapes', 'cn-clip_tiny_shapes.py')
GALLERY = osp.join(REPO, 'tools', 'gallery.py')


def child_env() -> dict:
    """Environment of a long-running child started with ``Popen`` (a
    server, or an indexer to kill): this checkout first on the path, one
    OpenMP thread, like :func:`helpers.processes.run`."""
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join(
        p for p in (REPO, os.environ.get('PYTHONPATH')) if p))


def gallery_cli(*args, check: bool = True, cwd: str = REPO):
    """Run ``tools/gallery.py ARGS`` (see :func:`helpers.processes.run`)."""
    return run([sys.executable, GALLERY, *args], check=check, cwd=cwd)


def wait_for_url(proc, timeout: float = TIMEOUT) -> str:
    """The URL a ``tools/gallery.py serve`` child prints once the gallery
    is loaded; fails with its output if it exits or times out first."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline, seen = time.monotonic() + timeout, ''
    while time.monotonic() < deadline and proc.poll() is None:
        if sel.select(timeout=1):
            line = proc.stdout.readline()
            seen += line
            if line.startswith('Serving the gallery on '):
                return line.split()[-1]
    proc.kill()
    raise AssertionError('gallery server did not start:\n' + seen +
                         proc.stderr.read()[-3000:])


def write_photos(folder, count: int, seed: int = 0, start: int = 0,
                 size: int = 32) -> list:
    """``count`` distinct small PNGs ``d{i % 3}/{i:04d}.png``."""
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
    """The shapes data and the tiny model trained on it, exactly as the
    offline quickstart of docs/retrieval.md does (``make_shapes_dataset.py
    --train 3000 --test 240`` and ``tools/train.py`` for 400 iterations;
    about a minute on a quiet 2-core machine).

    Returns:
        tuple[str, str]: The shapes data root and the checkpoint.
    """
    tmp = tmp_path_factory.mktemp('shapes')
    root, work = tmp / 'shapes', tmp / 'work'
    run_tool('data/make_shapes_dataset.py', root, '--train', '3000',
             '--test', '240', '--seed', '0')
    run_tool('train.py', TINY_CFG, '--work-dir', work, '--cfg-options',
             *[f'{split}_dataloader.dataset.data_root={root}'
               for split in ('train', 'val', 'test')])
    return str(root), str(work / 'iter_400.pth')
