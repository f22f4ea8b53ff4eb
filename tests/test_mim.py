"""OpenMMLab's ``mim`` on an installed mmcnclip: a copy of this checkout
installed into a throwaway virtual environment (the environment's own
install is never touched), ``mim`` run there outside the checkout.

A regular install (``pip install .``) serves ``mim search``, ``mim test`` and
``mim train`` by config name. An editable install (``pip install -e .``)
cannot: mim 0.3.9 looks for ``<location>/mmcnclip/.mim`` where
``<location>`` is ``pkg_resources.get_distribution('mmcnclip').location``,
the folder holding the ``.dist-info`` (the environment's site-packages),
and a PEP 660 editable install puts only a path hook there, in every
setuptools ``editable_mode``. The README says so and points mim users to a
regular install; the guard below fails once that stops being true.
"""
import os
import os.path as osp
import shutil
import site
import subprocess
import sys

import pytest
import torch
from helpers.processes import REPO, run
from mmengine.config import Config

pytest.importorskip('mim')
MIM = ['-c', 'from mim.cli import cli; cli()']


def copy_checkout(dst):
    """Copy the tracked and untracked, not ignored, files of this checkout."""
    files = subprocess.run(
        ['git', 'ls-files', '-co', '--exclude-standard'], cwd=REPO,
        capture_output=True, text=True, check=True).stdout.split('\n')
    for name in filter(None, files):
        if osp.isfile(osp.join(REPO, name)):
            os.makedirs(dst / osp.dirname(name), exist_ok=True)
            shutil.copy2(osp.join(REPO, name), dst / name)


def make_env(tmp, *pip_args):
    """A virtual environment ``tmp/env`` with a copy of this checkout,
    ``tmp/src``, installed by ``pip install [pip_args] .`` run in the copy,
    and this interpreter's packages importable after the environment's own
    (added once pip is done, so pip never sees nor touches them).

    Returns:
        tuple: The environment's python and its site-packages folder.
    """
    copy_checkout(tmp / 'src')
    run([sys.executable, '-m', 'venv', '--without-pip', tmp / 'env'])
    python = tmp / 'env' / 'bin' / 'python'
    purelib = run([python, '-c', 'import sysconfig; '
                   'print(sysconfig.get_path("purelib"))']).stdout.strip()
    run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
         '--no-build-isolation', '--no-index', '--target', purelib,
         *pip_args, '.'], cwd=tmp / 'src')
    with open(osp.join(purelib, 'zz_outer_site.pth'), 'w') as f:
        f.write('\n'.join(site.getsitepackages()) + '\n')
    return python, purelib


def mim(python, cwd, *args, check=True) -> str:
    """Run mim with ``python``, outside the checkout, nothing on
    ``PYTHONPATH``."""
    out = run([python, *MIM, *args], cwd=cwd, env=dict(PYTHONPATH=''),
              check=check)
    return out.stdout + out.stderr


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """A regular install of this checkout in a throwaway environment, a
    random tiny checkpoint and the shapes data."""
    tmp = tmp_path_factory.mktemp('mim')
    python, purelib = make_env(tmp)
    mim_dir = osp.join(purelib, 'mmcnclip', '.mim')
    assert osp.isfile(osp.join(mim_dir, 'tools', 'test.py'))
    assert not osp.islink(osp.join(mim_dir, 'tools'))
    import mmcnclip  # noqa: F401
    from mmcnclip.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(osp.join(
        REPO, 'configs', 'shapes', 'cn-clip_tiny_shapes.py')).model)
    torch.save({'state_dict': model.state_dict()}, tmp / 'tiny.pth')
    run([sys.executable, osp.join(REPO, 'tools', 'data',
                                  'make_shapes_dataset.py'),
         tmp / 'data', '--train', '16', '--test', '12'])
    return tmp, python, purelib


def test_mim_search(installed):
    tmp, python, _ = installed
    out = mim(python, tmp, 'search', 'mmcnclip')
    assert 'cn-clip_vit-huge-p14_zeroshot-cls_cifar100' in out, out[-3000:]


def test_mim_test_by_config_name(installed):
    tmp, python, purelib = installed
    out = mim(python, tmp, 'test', 'mmcnclip',
              'cn-clip_tiny_shapes_zeroshot.py', '--checkpoint',
              str(tmp / 'tiny.pth'), '--work-dir', str(tmp / 'test'),
              '--cfg-options',
              f'test_dataloader.dataset.data_root={tmp}/data/zeroshot')
    assert 'accuracy/top1' in out, out[-3000:]
    assert purelib in out  # the installed copy ran


def test_mim_train_by_config_name(installed):
    tmp, python, _ = installed
    data = tmp / 'data'
    mim(python, tmp, 'train', 'mmcnclip', 'cn-clip_tiny_shapes.py',
        '--work-dir', str(tmp / 'train'), '--cfg-options',
        f'train_dataloader.dataset.data_root={data}',
        f'val_dataloader.dataset.data_root={data}',
        f'test_dataloader.dataset.data_root={data}',
        'train_dataloader.batch_size=8', 'train_cfg.max_iters=2',
        'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
        'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
        'param_scheduler.1.end=2')
    assert (tmp / 'train' / 'iter_2.pth').is_file()


@pytest.mark.parametrize('mode', [None, 'compat', 'strict'],
                         ids=['default', 'compat', 'strict'])
def test_mim_misses_editable_install(tmp_path, mode):
    """Guard of the README's note: Python imports the editable install, mim
    looks for it in site-packages (``mim test``/``train`` resolve the
    package with the same ``get_installed_path``)."""
    settings = ['--config-settings', f'editable_mode={mode}'] if mode else []
    python, purelib = make_env(tmp_path, *settings, '-e')
    where = run([python, '-c', 'import importlib.util, pkg_resources; '
                 'print(importlib.util.find_spec("mmcnclip").origin); '
                 'print(pkg_resources.get_distribution("mmcnclip").location)'],
                cwd=tmp_path, env=dict(PYTHONPATH='')).stdout.split()
    assert osp.realpath(where[0]).startswith(
        osp.realpath(tmp_path / 'src')), where
    purelib = osp.realpath(purelib)
    assert where[1] == purelib, where
    out = mim(python, tmp_path, 'search', 'mmcnclip', check=False)
    assert osp.join(purelib, 'mmcnclip', 'model-index.yml') in out, \
        out[-3000:]
