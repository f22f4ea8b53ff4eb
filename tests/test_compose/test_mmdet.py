"""mmdet composition: detector configs on mmcnclip backbones build, load the
image tower of a published-format checkpoint through ``init_cfg`` and run a
forward + loss step on CPU. Needs the dense env (tools/setup_dense_env.sh)."""
import copy
import os.path as osp

import pytest
import torch

pytest.importorskip(
    'mmdet', reason='mmdet (and full mmcv with ops) is only in the dense env: '
    'tools/setup_dense_env.sh')
pytest.importorskip('mmcv.ops', reason='full mmcv with compiled ops needed')

from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import mmcnclip  # noqa: E402,F401
from conftest import REPO, build_official, save_official  # noqa: E402

CFG_DIR = osp.join(REPO, 'configs', 'mmdet')
TINY_VIT = dict(embed_dims=64, num_layers=2, num_heads=2,
                feedforward_channels=128)


def build_detector(cfg_model):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg_model)
        model.init_weights()
    return model


def loss_step(model, size=128, with_mask=False):
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(0)
    packed = demo_mm_inputs(batch_size=1, image_shapes=[(3, size, size)],
                            num_items=[2], with_mask=with_mask)
    model.train()
    data = model.data_preprocessor(packed, True)
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    return losses


def test_retinanet_rn50_loads_official_tower(tmp_path):
    cfg = Config.fromfile(
        osp.join(CFG_DIR, 'retinanet_cn-clip-rn50_fpn_1x_coco.py'))
    assert cfg.custom_imports.imports == ['mmcnclip']
    official = build_official('RN50')
    ckpt = save_official(official, str(tmp_path / 'rn50.pt'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg.checkpoint = ckpt
    model = build_detector(model_cfg)
    assert type(model.backbone).__name__ == 'ModifiedResNet'
    for name in ('layer1.0.conv1.weight', 'layer4.2.bn3.running_var',
                 'conv1.weight'):
        assert torch.equal(model.backbone.state_dict()[name],
                           official.visual.state_dict()[name]), name
    losses = loss_step(model)
    assert {'loss_cls', 'loss_bbox'} <= set(losses)
    # frozen_stages=1: the stem and stage 1 get no gradient, stage 4 does.
    assert model.backbone.conv1.weight.grad is None
    assert model.backbone.layer4[0].conv1.weight.grad.abs().sum() > 0


def test_mask_rcnn_vit_simple_pyramid(tmp_path):
    cfg = Config.fromfile(osp.join(
        CFG_DIR, 'mask-rcnn_cn-clip-vit-base-p16_simple-pyramid_1x_coco.py'))
    assert cfg.model.neck.type == 'mmcnclip.SimpleFeaturePyramid'
    model_cfg = copy.deepcopy(cfg.model)
    # A tiny ViT saved as part of an mmcnclip-layout detector checkpoint
    # (heads of the detector are not the tower's business).
    from mmcnclip.registry import MODELS
    torch.manual_seed(1)
    tower = MODELS.build(dict(type='mmcnclip.CLIPVisionTransformer',
                              arch=TINY_VIT, patch_size=16))
    sd = {f'backbone.{k}': v for k, v in tower.state_dict().items()}
    sd['rpn_head.rpn_conv.weight'] = torch.zeros(1)
    ckpt = str(tmp_path / 'det.pth')
    torch.save({'meta': {}, 'state_dict': sd}, ckpt)
    model_cfg.backbone.update(arch=TINY_VIT, drop_rate=0.)
    model_cfg.backbone.init_cfg.checkpoint = ckpt
    model_cfg.neck.in_channels = 64
    model = build_detector(model_cfg)
    for k, v in tower.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[k], v), k
    feats = model.extract_feat(torch.randn(1, 3, 128, 128))
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4, 2]
    losses = loss_step(model, with_mask=True)
    assert {'loss_rpn_cls', 'loss_cls', 'loss_mask'} <= set(losses)
    assert model.backbone.layers[0].attn.qkv.weight.grad.abs().sum() > 0
