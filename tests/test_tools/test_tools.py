"""tools/test.py, tools/dist_test.sh and tools/train.py on a tiny model.

A tiny mmpretrain ImageClassifier on mmcnclip's CLIPVisionTransformer is
run on a CIFAR-100 archive generated in tmp_path. The test labels are
chosen from the model's own in-process predictions so that the expected
accuracy is known: the CLI must load the checkpoint and feed RGB images
exactly like the in-process pipeline to reproduce it.
"""
import json
import os.path as osp
import pickle
import sys

import pytest
import torch
from helpers.processes import free_port, run, run_tool
from mmengine.config import Config
from mmengine.dataset import default_collate
from test_datasets.cifar_files import write_cifar100

from mmcnclip.checkpoint import load_checkpoint_file
from mmcnclip.models.data_preprocessor import CLIP_MEAN, CLIP_STD
from mmcnclip.registry import DATASETS, MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
N_TEST = 12

CONFIG = """
_base_ = [{runtime!r}]
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor', mean={mean}, std={std}, to_rgb=False,
        num_classes=100),
    backbone=dict(
        type='mmcnclip.CLIPVisionTransformer',
        arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                  feedforward_channels=64),
        img_size=32, patch_size=8),
    head=dict(type='LinearClsHead', num_classes=100, in_channels=32,
              loss=dict(type='CrossEntropyLoss')))
pipeline = [
    dict(type='mmcnclip.LoadImagePIL'),
    dict(type='mmcnclip.PILResize', scale=32),
    dict(type='PackInputs'),
]
test_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='mmcnclip.CIFAR100', data_root={root!r}, split='test',
                 pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_evaluator = dict(type='Accuracy', topk=(1, 5))
test_cfg = dict()
train_dataloader = dict(
    batch_size=3, num_workers=0,
    dataset=dict(type='mmcnclip.CIFAR100', data_root={root!r}, split='train',
                 pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=3)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.5, momentum=0.9))
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
"""


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Config, checkpoint and expected metrics of the tiny classifier."""
    tmp = tmp_path_factory.mktemp('tools')
    write_cifar100(str(tmp), n_train=6, n_test=N_TEST)
    cfg_path = tmp / 'tiny.py'
    cfg_path.write_text(CONFIG.format(
        runtime=osp.join(REPO, 'configs', '_base_', 'default_runtime.py'),
        mean=[255 * m for m in CLIP_MEAN], std=[255 * s for s in CLIP_STD],
        root=str(tmp)))
    cfg = Config.fromfile(str(cfg_path))

    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    ckpt = tmp / 'tiny.pth'
    torch.save({'state_dict': model.state_dict()}, ckpt)

    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    with torch.no_grad():
        out = model.test_step(default_collate(list(dataset)))
    ranking = torch.stack([o.pred_score for o in out]).argsort(1, True)
    # Labels at rank 0 (top-1 hit), rank 3 (top-5 hit) or rank 20 (miss).
    ranks = [(0, 3, 20)[i % 3] for i in range(N_TEST)]
    labels = [int(ranking[i, r]) for i, r in enumerate(ranks)]
    test_file = tmp / 'cifar-100-python' / 'test'
    with open(test_file, 'rb') as f:
        entry = pickle.load(f)
    entry['fine_labels'] = labels
    with open(test_file, 'wb') as f:
        pickle.dump(entry, f, protocol=2)
    expected = {
        'accuracy/top1': 100 * sum(r < 1 for r in ranks) / N_TEST,
        'accuracy/top5': 100 * sum(r < 5 for r in ranks) / N_TEST,
    }
    yield dict(tmp=tmp, cfg=str(cfg_path), ckpt=str(ckpt),
               expected=expected, ranks=ranks)


def _check_metrics(path, expected):
    with open(path) as f:
        metrics = json.load(f)
    assert metrics.keys() >= expected.keys()
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value), (key, metrics)


def test_test_py(setup, tmp_path):
    out = tmp_path / 'metrics.json'
    log = run_tool('test.py', setup['cfg'], setup['ckpt'], '--work-dir',
                   str(tmp_path / 'work'), '--out', str(out), '--out-item',
                   'metrics', cwd=tmp_path)
    _check_metrics(out, setup['expected'])
    assert 'accuracy/top1: {:.4f}'.format(
        setup['expected']['accuracy/top1']) in log
    # Progress over the dataset, as plain lines (no '\r') in the log file.
    assert f'{N_TEST}/{N_TEST} images, ' in log and '\r' not in log
    log_file = next((tmp_path / 'work').glob('*/*.log')).read_text()
    assert f'{N_TEST}/{N_TEST} images, ' in log_file
    assert '\r' not in log_file
    # Predictions dump (default --out-item): one entry per test image.
    preds = tmp_path / 'preds.pkl'
    run_tool('test.py', setup['cfg'], setup['ckpt'], '--work-dir',
             str(tmp_path / 'work'), '--out', str(preds), '--show-dir',
             str(tmp_path / 'vis'), '--interval', '4', '--cfg-options',
             'test_dataloader.batch_size=5', cwd=tmp_path)
    shown = sorted((tmp_path / 'vis').glob('*.png'))
    assert [p.name for p in shown] == [f'{i:06d}.png' for i in (0, 4, 8)]
    with open(preds, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == N_TEST
    assert [int(d['pred_label']) == int(d['gt_label']) for d in dumped] == \
        [r == 0 for r in setup['ranks']]


def test_test_py_weights_named_by_the_config(setup, tmp_path):
    """Without a checkpoint argument, model.pretrained is loaded (how the
    Taiyi-CLIP zero-shot configs name their two towers)."""
    out = tmp_path / 'metrics.json'
    run_tool('test.py', setup['cfg'], '--work-dir', str(tmp_path / 'work'),
             '--out', str(out), '--out-item', 'metrics', '--cfg-options',
             f'model.pretrained={setup["ckpt"]}', cwd=tmp_path)
    _check_metrics(out, setup['expected'])


def test_test_py_prepare_keeps_predictions(setup, tmp_path):
    scores = {}
    for extra in ([], ['--prepare', 'fp32']):
        preds = tmp_path / f'preds{len(extra)}.pkl'
        log = run_tool('test.py', setup['cfg'], setup['ckpt'], '--work-dir',
                       str(tmp_path / 'work'), '--out', str(preds), *extra,
                       cwd=tmp_path)
        assert ('Model prepared for inference (fp32' in log) == bool(extra)
        with open(preds, 'rb') as f:
            scores[bool(extra)] = torch.stack(
                [d['pred_score'] for d in pickle.load(f)])
    torch.testing.assert_close(scores[True], scores[False], rtol=0,
                               atol=1e-5)


def test_dist_test_sh_two_cpu_processes(setup, tmp_path):
    out = tmp_path / 'metrics.json'
    log = run_tool('dist_test.sh', setup['cfg'], setup['ckpt'], '2',
                   '--work-dir', str(tmp_path / 'work'), '--out', str(out),
                   '--out-item', 'metrics', cwd=tmp_path,
                   env=dict(PORT=str(free_port())))
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    # Without CUDA the runtime's nccl default must have become gloo.
    assert torch.cuda.is_available() or "'backend': 'gloo'" in log
    _check_metrics(out, setup['expected'])


def test_train_py(setup, tmp_path):
    work = tmp_path / 'work'
    run_tool('train.py', setup['cfg'], '--work-dir', str(work), cwd=tmp_path)
    first, last = (load_checkpoint_file(str(work / f'iter_{i}.pth'))
                   for i in (1, 3))
    assert last['meta']['iter'] == 3
    scalars = [json.loads(line) for line in open(
        next(work.glob('*/vis_data/scalars.json')))]
    losses = [s['loss'] for s in scalars if 'loss' in s]
    assert len(losses) == 3 and all(x == x and x > 0 for x in losses)
    # The optimiser changed the weights between iterations 1 and 3.
    assert first['state_dict'].keys() == last['state_dict'].keys()
    assert not torch.equal(first['state_dict']['head.fc.weight'],
                           last['state_dict']['head.fc.weight'])


@pytest.mark.parametrize('tool,content,message', [
    ('train.py --resume', b'', 'is empty (0 bytes)'),
    ('test.py', b'hello\n' * 9, 'is not a checkpoint'),
])
def test_broken_checkpoint_is_named(setup, tmp_path, tool, content,
                                    message):
    """A zero-byte or text checkpoint names the file and the problem."""
    ckpt = tmp_path / 'broken.pth'
    ckpt.write_bytes(content)
    script, *flag = tool.split()
    args = [setup['cfg'], *flag, str(ckpt), '--work-dir', str(tmp_path / 'w')]
    proc = run([sys.executable, osp.join(REPO, 'tools', script), *args],
               cwd=tmp_path, check=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert f'{ckpt} {message}' in proc.stderr, proc.stderr[-5000:]
    assert 'CheckpointFileError' in proc.stderr


def test_dist_train_sh_two_cpu_processes(setup, tmp_path):
    work = tmp_path / 'work'
    log = run_tool('dist_train.sh', setup['cfg'], '2', '--work-dir',
                   str(work), cwd=tmp_path, env=dict(PORT=str(free_port())))
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    ckpt = load_checkpoint_file(str(work / 'iter_3.pth'))
    assert ckpt['meta']['iter'] == 3
    # Checkpoints hold the bare model (no DDP ``module.`` prefix).
    assert 'head.fc.weight' in ckpt['state_dict']
