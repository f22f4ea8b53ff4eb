"""ZeroShotClassifier: configs, model index, checkpoint layouts, CLIP API."""
import os.path as osp

import pytest
import torch
import yaml
from mmengine.config import Config

import mmcnclip  # noqa: F401
from conftest import REPO
from mmcnclip.registry import MODELS

ARCHS = ['resnet50', 'vit-base-p16', 'vit-large-p14', 'vit-large-p14-336px',
         'vit-huge-p14']
TASKS = ['cifar100', 'cifar10', 'imagenet-cn', 'elevater-folder']
TINY_TEXT = dict(type='mmcnclip.BertTextEncoder',
                 arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                           feedforward_channels=64))


def tiny_cfg(**kwargs):
    cfg = dict(
        type='mmcnclip.ZeroShotClassifier',
        backbone=dict(type='mmcnclip.CLIPVisionTransformer',
                      arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                                feedforward_channels=64),
                      img_size=32, patch_size=16),
        neck=dict(type='mmcnclip.CLIPProjection', in_channels=32,
                  out_channels=16),
        text_encoder=TINY_TEXT,
        text_proj=dict(type='mmcnclip.CLIPProjection', in_channels=32,
                       out_channels=16),
        text_prototype=['猫', '狗', '鸟'], text_prompt='single',
        head=dict(progress=False))
    cfg.update(kwargs)
    return cfg


def metafile_models():
    with open(osp.join(REPO, 'configs', 'metafile.yml')) as f:
        return {m['Name']: m for m in yaml.safe_load(f)['Models']}


@pytest.mark.parametrize('arch', ARCHS)
def test_configs_and_metafile(arch):
    meta = metafile_models()
    params = None
    for task in TASKS:
        name = f'cn-clip_{arch}_zeroshot-cls_{task}'
        entry = meta[name]
        assert entry['Config'] == f'configs/{name}.py'
        cfg = Config.fromfile(osp.join(REPO, entry['Config']))
        assert cfg.model.type == 'mmcnclip.ZeroShotClassifier'
        size = 336 if arch.endswith('336px') else 224
        for loader in ('test_dataloader', 'val_dataloader'):
            if loader in cfg:
                scales = [t.scale for t in cfg[loader].dataset.pipeline
                          if t.type == 'mmcnclip.PILResize']
                assert scales == [size], (name, loader)
        if task == 'elevater-folder':  # classes come from the dataset
            assert 'classes' not in cfg.model
            assert 'text_prototype' not in cfg.model
        if params is None:  # same model for every task: count once
            with torch.device('meta'):
                model = MODELS.build(cfg.model)
            params = sum(p.numel() for p in model.parameters())
            expected = {'cifar100': 100, 'cifar10': 10, 'imagenet-cn': 1000}
            assert model.head.num_classes == expected[task]
        assert entry['Metadata']['Parameters'] == params
        assert entry['Weights'].startswith(
            'https://clip-cn-beijing.oss-cn-beijing.aliyuncs.com/')


def test_model_level_arguments_and_conflicts():
    model = MODELS.build(tiny_cfg(context_length=24))
    assert model.head.classnames == ('猫', '狗', '鸟')
    assert model.head.templates == ('{}的图片', )
    assert model.tokenize('猫').shape == (1, 24)
    assert model.data_preprocessor.to_rgb is False
    with pytest.raises(ValueError, match='model.text_prototype and '
                       'model.head.classnames'):
        MODELS.build(tiny_cfg(head=dict(classnames=['a'])))


def test_loads_chinese_clip_layout_and_clip_api(tmp_path):
    torch.manual_seed(0)
    two_tower = MODELS.build(dict(
        type='mmcnclip.ChineseCLIP', **{
            k: v for k, v in tiny_cfg().items()
            if k in ('backbone', 'neck', 'text_encoder', 'text_proj')
        })).eval()
    path = str(tmp_path / 'two_tower.pth')
    torch.save({'state_dict': two_tower.state_dict()}, path)

    from mmengine.runner import load_checkpoint
    model = MODELS.build(tiny_cfg()).eval()
    # One layout: the same keys, loaded without any remapping.
    assert model.state_dict().keys() == two_tower.state_dict().keys()
    load_checkpoint(model, path, map_location='cpu', strict=True)
    assert torch.equal(model.logit_scale, two_tower.logit_scale)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.encode_image(images),
                              two_tower.encode_image(images), atol=1e-6)
        assert torch.allclose(model.encode_text(['猫', '一只狗']),
                              two_tower.encode_text(['猫', '一只狗']),
                              atol=1e-6)
        img, txt = two_tower(images, [f'{c}的图片' for c in '猫狗鸟'])
        ref = (two_tower.logit_scale.exp() * img @ txt.t()).softmax(-1)
        samples = model(images, mode='predict')
    scores = torch.stack([s.pred_score for s in samples])
    assert (scores - ref).abs().max() < 1e-5

    bad = {k: v for k, v in two_tower.state_dict().items()
           if not k.startswith('text_proj')}
    torch.save({'state_dict': bad}, path)
    with pytest.raises(Exception, match='text_proj'):
        load_checkpoint(model, path, map_location='cpu', strict=True)
