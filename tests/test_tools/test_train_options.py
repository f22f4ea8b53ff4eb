"""tools/train.py on a shipped finetune config, the user's way (subprocess):
plain OptimWrapper by default (trains on CPU), ``--amp`` explained on a
CPU-only machine, ``--auto-scale-lr`` with the base batch size given by
``--cfg-options``."""
import os.path as osp
import sys

import pytest
import torch
from helpers.processes import REPO, run, run_tool

CONFIG = osp.join(REPO, 'configs',
                  'cn-clip_resnet50_retrieval_muge-finetune.py')


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    """Tiny shapes data in the official jsonl + tsv layout of MUGE."""
    root = tmp_path_factory.mktemp('shapes')
    run_tool(osp.join('data', 'make_shapes_dataset.py'), str(root),
             '--train', '4', '--test', '12', '--seed', '0')
    return root


def test_finetune_config_trains_on_cpu_with_auto_scale_lr(shapes, tmp_path):
    out = run_tool('train.py', CONFIG, '--work-dir', str(tmp_path),
                   '--no-validate', '--auto-scale-lr', '--cfg-options',
                   'load_from=None',
                   f'train_dataloader.dataset.data_root={shapes}',
                   'train_dataloader.batch_size=2', 'train_cfg.max_epochs=1',
                   'auto_scale_lr.base_batch_size=4')
    log = open(next(tmp_path.glob('*/*.log')), encoding='utf-8').read()
    assert 'Scaling the original LR by 0.5' in log, out[-2000:]
    assert 'Epoch(train) [1][2/2]' in log
    assert (tmp_path / 'epoch_1.pth').is_file()


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_amp_on_cpu_is_a_clear_error(tmp_path):
    out = run([sys.executable, osp.join(REPO, 'tools', 'train.py'), CONFIG,
               '--amp', '--work-dir', str(tmp_path)], check=False)
    assert out.returncode != 0
    assert '--amp' in out.stderr and 'GPU' in out.stderr, out.stderr[-2000:]
    assert 'Traceback' not in out.stderr, out.stderr[-2000:]
