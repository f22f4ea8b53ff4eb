"""mmpretrain composition: linear-probe / finetune configs with
``LinearClsHead`` on mmcnclip image towers, layer-wise lr decay, one train
step each, and image-tower loading through ``init_cfg``."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper as _build_optim_wrapper
from mmengine.registry import DefaultScope

import mmcnclip  # noqa: F401
from mmcnclip.registry import MODELS
from conftest import REPO, build_official, save_official

CFG_DIR = osp.join(REPO, 'configs', 'linear-probe')
TINY_VIT = dict(embed_dims=64, num_layers=3, num_heads=2,
                feedforward_channels=128)


def load_cfg(name: str) -> Config:
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    # What mmengine's Runner does with a top-level data_preprocessor.
    cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    return cfg


def batch(size: int = 64, label: int = 7) -> dict:
    from mmpretrain.structures import DataSample
    gen = torch.Generator().manual_seed(0)
    img = torch.randint(0, 256, (3, size, size), generator=gen,
                        dtype=torch.uint8)
    return dict(inputs=[img], data_samples=[DataSample().set_gt_label(label)])


def tiny_vit_checkpoint(path) -> dict:
    """A random tiny ViT tower saved in mmpretrain's CLIP layout."""
    torch.manual_seed(3)
    tower = MODELS.build(dict(type='mmcnclip.CLIPVisionTransformer',
                              arch=TINY_VIT, patch_size=16))
    sd = {f'backbone.{k}': v for k, v in tower.state_dict().items()}
    # Save via our canonical -> mmpretrain names for the keys that differ.
    mm = {}
    for k, v in sd.items():
        k = k.replace('backbone.', 'vision_backbone.')
        k = (k.replace('patch_embed.weight', 'patch_embed.projection.weight')
             .replace('post_norm', 'ln1').replace('mlp.fc1', 'ffn.layers.0.0')
             .replace('mlp.fc2', 'ffn.layers.1'))
        if k.endswith(('cls_token', 'pos_embed')):
            v = v[None, None] if k.endswith('cls_token') else v[None]
        mm[k] = v
    torch.save({'state_dict': mm}, path)
    return tower.state_dict()


def build_optim_wrapper(model, cfg):
    """Like the Runner: inside the config's default scope (mmpretrain)."""
    import mmpretrain.engine  # noqa: F401  (registers the constructors)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return _build_optim_wrapper(model, cfg)


def params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def test_vit_linear_probe_config_trains_only_the_head(tmp_path):
    cfg = load_cfg('cn-clip_vit-base-p16_linear-probe_cifar100.py')
    assert cfg.model.backbone.type == 'mmcnclip.CLIPVisionTransformer'
    assert cfg.model.head.type == 'LinearClsHead'
    ckpt = str(tmp_path / 'mmpretrain_vit.pth')
    expected = tiny_vit_checkpoint(ckpt)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.update(arch=TINY_VIT, frozen_stages=3)
    model_cfg.backbone.init_cfg.checkpoint = ckpt
    model_cfg.head.in_channels = 64
    model = MODELS.build(model_cfg)
    model.init_weights()
    for k, v in expected.items():
        assert torch.equal(model.backbone.state_dict()[k], v), k
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    before = params(model)
    model.train()
    log = model.train_step(batch(), optim)
    assert torch.isfinite(log['loss'])
    after = params(model)
    frozen = [k for k in before if k.startswith('backbone.')]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert not torch.equal(before['head.fc.weight'], after['head.fc.weight'])


def test_vit_finetune_layer_decay_groups_and_step(tmp_path):
    cfg = load_cfg('cn-clip_vit-base-p16_finetune_cifar100.py')
    assert cfg.optim_wrapper.constructor == \
        'LearningRateDecayOptimWrapperConstructor'
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.update(arch=TINY_VIT, init_cfg=None)
    model_cfg.head.in_channels = 64
    model = MODELS.build(model_cfg)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    rate = cfg.optim_wrapper.paramwise_cfg.layer_decay_rate
    base_lr = cfg.optim_wrapper.optimizer.lr
    lrs = {g['param_name']: g['lr'] for g in optim.optimizer.param_groups}
    depth = TINY_VIT['num_layers'] + 2
    assert lrs['backbone.patch_embed.weight'] == pytest.approx(
        base_lr * rate**(depth - 1))
    assert lrs['backbone.layers.1.attn.qkv.weight'] == pytest.approx(
        base_lr * rate**(depth - 3))
    assert lrs['head.fc.weight'] == pytest.approx(base_lr)
    before = params(model)
    model.train()
    assert torch.isfinite(model.train_step(batch(), optim)['loss'])
    after = params(model)
    assert not torch.equal(before['backbone.layers.0.mlp.fc1.weight'],
                           after['backbone.layers.0.mlp.fc1.weight'])


def test_rn50_finetune_loads_official_tower_and_trains(tmp_path):
    cfg = load_cfg('cn-clip_resnet50_finetune_cifar100.py')
    official = build_official('RN50')
    ckpt = save_official(official, str(tmp_path / 'rn50.pt'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg.checkpoint = ckpt
    model = MODELS.build(model_cfg)
    model.init_weights()
    ours, theirs = model.backbone.state_dict(), official.visual.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = {g['param_name']: g['lr'] for g in optim.optimizer.param_groups}
    assert lrs['backbone.conv1.weight'] < lrs['backbone.layer4.0.conv1.weight'] \
        < lrs['backbone.attnpool.c_proj.weight'] <= lrs['head.fc.weight']
    model.train()
    assert torch.isfinite(model.train_step(batch(64), optim)['loss'])
