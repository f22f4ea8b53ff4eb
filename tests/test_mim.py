"""OpenMMLab's ``mim`` on an installed mmcnclip (``pip install --target``
of a copy of this checkout, never touching the environment's own install):
``mim search``, ``mim test`` and ``mim train`` by config name."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch
from helpers.processes import REPO, run
from mmengine.config import Config

pytest.importorskip('mim')
MIM = [sys.executable, '-c', 'from mim.cli import cli; cli()']


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """A non-editable install of this checkout into a throwaway folder."""
    tmp = tmp_path_factory.mktemp('mim')
    files = subprocess.run(
        ['git', 'ls-files', '-co', '--exclude-standard'], cwd=REPO,
        capture_output=True, text=True, check=True).stdout.split('\n')
    src = tmp / 'src'
    for name in filter(None, files):
        if osp.isfile(osp.join(REPO, name)):
            os.makedirs(src / osp.dirname(name), exist_ok=True)
            shutil.copy2(osp.join(REPO, name), src / name)
    site = tmp / 'site'
    run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
         '--no-build-isolation', '--no-index', '--target', site, src])
    assert (site / 'mmcnclip' / '.mim' / 'tools' / 'test.py').is_file()
    assert not (site / 'mmcnclip' / '.mim' / 'tools').is_symlink()
    # a random tiny checkpoint and the shapes data
    import mmcnclip  # noqa: F401
    from mmcnclip.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(osp.join(
        REPO, 'configs', 'shapes', 'cn-clip_tiny_shapes.py')).model)
    torch.save({'state_dict': model.state_dict()}, tmp / 'tiny.pth')
    run([sys.executable, osp.join(REPO, 'tools', 'data',
                                  'make_shapes_dataset.py'),
         tmp / 'data', '--train', '16', '--test', '12'])
    return tmp


def mim(installed, *args) -> str:
    """Run mim outside the checkout with only the install importable."""
    out = run([*MIM, *args], cwd=installed,
              env=dict(PYTHONPATH=str(installed / 'site')))
    return out.stdout + out.stderr


def test_mim_search(installed):
    out = mim(installed, 'search', 'mmcnclip')
    assert 'cn-clip_vit-huge-p14_zeroshot-cls_cifar100' in out, out[-3000:]


def test_mim_test_by_config_name(installed):
    out = mim(installed, 'test', 'mmcnclip', 'cn-clip_tiny_shapes_zeroshot.py',
              '--checkpoint', str(installed / 'tiny.pth'), '--work-dir',
              str(installed / 'test'), '--cfg-options',
              f'test_dataloader.dataset.data_root={installed}/data/zeroshot')
    assert 'accuracy/top1' in out, out[-3000:]
    assert str(installed / 'site') in out  # the installed copy ran


def test_mim_train_by_config_name(installed):
    data = installed / 'data'
    mim(installed, 'train', 'mmcnclip', 'cn-clip_tiny_shapes.py', '--work-dir',
        str(installed / 'train'), '--cfg-options',
        f'train_dataloader.dataset.data_root={data}',
        f'val_dataloader.dataset.data_root={data}',
        f'test_dataloader.dataset.data_root={data}',
        'train_dataloader.batch_size=8', 'train_cfg.max_iters=2',
        'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
        'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
        'param_scheduler.1.end=2')
    assert (installed / 'train' / 'iter_2.pth').is_file()
