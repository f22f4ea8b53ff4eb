"""Every shipped config runs through the tool it is written for.

Zero-shot and retrieval-test configs go through ``tools/test.py``,
finetune and linear-probe configs through ``tools/train.py`` (one
iteration), each as a user would: the shipped config as the ``_base_`` of a
one-line child that only shrinks the towers (same model types, tiny
widths), generated data passed with ``--cfg-options``. One config of each
family runs by default, the others are marked ``slow``.

Covered elsewhere: ``configs/shapes`` (tests/test_shapes_e2e.py), the Taiyi
model configs, which no tool runs (tests/test_models/test_taiyi), and the
mmdet/mmseg configs (tests/test_compose, dense environment).
"""
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from test_datasets.cifar_files import write_cifar10, write_cifar100
from test_datasets.retrieval_files import (build_official_lmdb,
                                           smooth_image, tiny_retrieval_set)

from conftest import REPO
from helpers.processes import run_tool
from mmcnclip.registry import MODELS

TINY = dict(_delete_=True, embed_dims=32, num_layers=1, num_heads=2,
            feedforward_channels=64)  # replaces an arch name
EMBED = 16
#: one config per family runs by default
DEFAULT = {
    'cn-clip_vit-base-p16_zeroshot-cls_imagenet-cn.py',
    'cn-clip_resnet50_zeroshot-cls_elevater-folder.py',
    'cn-clip_resnet50_retrieval_muge-test.py',
    'cn-clip_vit-base-p16_retrieval_flickr30k-cn-finetune.py',
    'linear-probe/cn-clip_vit-base-p16_linear-probe_cifar100.py',
    'taiyi/taiyi-clip_roberta-large-326m_vit-h-14_zeroshot-cls_cifar100.py',
}


def _configs(pattern):
    paths = sorted(glob.glob(osp.join(REPO, 'configs', pattern)))
    return [pytest.param(p, id=osp.relpath(p, osp.join(REPO, 'configs')),
                         marks=() if osp.relpath(
                             p, osp.join(REPO, 'configs')) in DEFAULT
                         else pytest.mark.slow) for p in paths]


def tiny_model(model: dict) -> dict:
    """Overrides that shrink the towers of a shipped model config."""
    out = {}
    backbone = model['backbone']
    if backbone['type'].endswith('ModifiedResNet'):
        out['backbone'] = dict(base_channels=8, output_dims=EMBED,
                               head_width=16)
        width = EMBED
    else:
        out['backbone'] = dict(arch=TINY)
        width = TINY['embed_dims']
        if backbone.get('frozen_stages', -1) > 1:
            out['backbone']['frozen_stages'] = 1
    if model.get('neck'):
        out['neck'] = dict(in_channels=TINY['embed_dims'],
                           out_channels=EMBED)
        width = EMBED
    if 'text_encoder' in model:
        out['text_encoder'] = dict(arch=TINY)
        out['text_proj'] = dict(in_channels=TINY['embed_dims'],
                                out_channels=EMBED)
    if model.get('head', {}).get('in_channels'):
        out['head'] = dict(in_channels=width)
    if model.get('pretrained'):
        out['pretrained'] = None
    return out


def child_config(tmp_path, path):
    """``tmp_path/tiny.py``: the shipped config with tiny towers, and the
    loaded result."""
    cfg = Config.fromfile(path)
    child = tmp_path / 'tiny.py'
    child.write_text(f'_base_ = [{path!r}]\n'
                     f'model = {tiny_model(cfg.model)!r}\n')
    return str(child), Config.fromfile(str(child))


def save_weights(cfg, path, prefix=None):
    """Random weights of the tiny model (``prefix``: only that tower)."""
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    sd = model.state_dict()
    if prefix:
        sd = {k: v for k, v in sd.items() if k.startswith(prefix)}
    torch.save({'state_dict': sd}, path)
    return str(path)


def loader_options(*loaders, **values):
    opts = []
    for loader in loaders:
        opts += [f'{loader}.num_workers=0', f'{loader}.batch_size=2',
                 f'{loader}.persistent_workers=False']
        opts += [f'{loader}.dataset.{k}={v}' for k, v in values.items()]
    return opts


def image_folder(root, classes):
    """``root/test/<class>/*.png`` and ``root/label_cn.txt``."""
    for c in range(len(classes)):
        os.makedirs(root / 'test' / f'{c:03d}')
        smooth_image(c).save(root / 'test' / f'{c:03d}' / 'a.png')
    (root / 'label_cn.txt').write_text('\n'.join(classes) + '\n',
                                       encoding='utf-8')
    return root


def zero_shot_data(tmp_path, cfg):
    """``--cfg-options`` pointing the test loader at generated data; image
    folders get as few classes as the evaluator allows (ELEVATER has
    2-class datasets)."""
    dataset_type = cfg.test_dataloader.dataset.type
    root = tmp_path / 'data'
    root.mkdir()
    if dataset_type.endswith('CIFAR100'):
        write_cifar100(str(root), n_train=2, n_test=3)
        return [f'test_dataloader.dataset.data_root={root}']
    if dataset_type.endswith('CIFAR10'):
        write_cifar10(str(root), n_per_batch=1, n_test=3)
        return [f'test_dataloader.dataset.data_root={root}']
    topk = max(cfg.test_evaluator.get('topk', (1, )))
    image_folder(root, ('猫', '狗', '飞机', '汽车', '鸟', '船')[:max(topk, 2)])
    return [f'test_dataloader.dataset.data_root={root}',
            f'model.classes={root}/label_cn.txt']


def metrics_line(log, key):
    assert key in log, log[-3000:]


@pytest.mark.parametrize('path', _configs('cn-clip_*_zeroshot-cls_*.py') +
                         _configs('taiyi/*_zeroshot-cls_*.py'))
def test_zero_shot_config(tmp_path, path):
    child, cfg = child_config(tmp_path, path)
    ckpt = save_weights(cfg, tmp_path / 'tiny.pth')
    opts = zero_shot_data(tmp_path, cfg)
    log = run_tool('test.py', child, ckpt, '--work-dir',
                   str(tmp_path / 'work'), '--cfg-options',
                   *loader_options('test_dataloader'), *opts)
    metrics_line(log, 'accuracy/top1')
    if 'resnet50' in path and osp.relpath(path, REPO) in {
            osp.join('configs', c) for c in DEFAULT}:
        # int8: ResNet convolutions calibrated on the first batch (its
        # first view under test-time augmentation)
        for tta in ([], ['--tta']):
            log = run_tool('test.py', child, ckpt, '--work-dir',
                           str(tmp_path / 'work'), '--prepare', 'int8',
                           *tta, '--cfg-options',
                           *loader_options('test_dataloader'), *opts)
            metrics_line(log, 'accuracy/top1')
            assert 'ResNet convolutions (if any) calibrated on the 2 ' \
                'images' in log, log[-3000:]


@pytest.mark.parametrize('path', _configs('cn-clip_*_retrieval_*-test.py'))
def test_retrieval_test_config(tmp_path, path):
    child, cfg = child_config(tmp_path, path)
    ckpt = save_weights(cfg, tmp_path / 'tiny.pth')
    root = tiny_retrieval_set(str(tmp_path))
    args = [child, ckpt, '--work-dir', str(tmp_path / 'work'),
            '--cfg-options',
            *loader_options('test_dataloader', data_root=root)]
    metrics_line(run_tool('test.py', *args), 'retrieval/MR')
    if osp.basename(path) in DEFAULT:
        # one option switches to the official LMDB layout
        pytest.importorskip('lmdb')
        build_official_lmdb(root, ('valid', ))
        log = run_tool('test.py', *args, 'test_dataloader.dataset.type='
                       'mmcnclip.CNCLIPLmdbRetrieval')
        metrics_line(log, 'retrieval/MR')
        # int8 retrieval: ResNet convolutions calibrated on the first batch
        log = run_tool('test.py', *args[:4], '--prepare', 'int8', *args[4:])
        metrics_line(log, 'retrieval/MR')
        assert 'ResNet convolutions (if any) calibrated on the' in log, \
            log[-3000:]


@pytest.mark.parametrize('path',
                         _configs('cn-clip_*_retrieval_*-finetune.py'))
def test_finetune_config(tmp_path, path):
    child, cfg = child_config(tmp_path, path)
    ckpt = save_weights(cfg, tmp_path / 'tiny.pth')
    root = tiny_retrieval_set(str(tmp_path), num_images=1)
    work = tmp_path / 'work'
    run_tool('train.py', child, '--work-dir', str(work), '--cfg-options',
             *loader_options('train_dataloader', 'val_dataloader',
                             data_root=root),
             f'load_from={ckpt}', 'train_cfg.max_epochs=1',
             'param_scheduler.1.end=1',
             # mmengine's AmpOptimWrapper needs a GPU (docs/retrieval.md)
             *([] if torch.cuda.is_available() else
               ['optim_wrapper.type=OptimWrapper']))
    assert (work / 'epoch_1.pth').is_file()


@pytest.mark.parametrize('path', _configs('linear-probe/*.py'))
def test_linear_probe_config(tmp_path, path):
    child, cfg = child_config(tmp_path, path)
    tower = save_weights(cfg, tmp_path / 'tower.pth', prefix='backbone.')
    write_cifar100(str(tmp_path), n_train=2, n_test=2)
    work = tmp_path / 'work'
    # mmpretrain's CIFAR100 checks the md5 of the real archive: read the
    # generated one with mmcnclip's reader (same pickle layout)
    run_tool('train.py', child, '--work-dir', str(work), '--cfg-options',
             *loader_options('train_dataloader', 'val_dataloader',
                             data_root=tmp_path,
                             type='mmcnclip.CIFAR100'),
             f'model.backbone.init_cfg.checkpoint={tower}',
             'train_cfg.max_epochs=1')
    assert (work / 'epoch_1.pth').is_file()
