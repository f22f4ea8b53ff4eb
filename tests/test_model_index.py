"""The model index, the OpenMMLab way: modelindex's own checker, every
shipped config listed under its mmpretrain task, and every zero-shot model
found by name and run by ``mmpretrain.inference_model``."""
import glob
import os.path as osp
import sys

import pytest
import torch
import yaml
from helpers.processes import run
from mmengine.config import Config

from conftest import REPO, smooth_image
from mmcnclip.model_table import CLS_TASK, RETRIEVAL_TASKS

CONFIGS = sorted(
    osp.relpath(p, osp.join(REPO, 'configs'))
    for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                       recursive=True)
    if '_base_' not in p and not p.split(osp.sep)[-2] in ('mmdet', 'mmseg'))


def test_modelindex_checker():
    out = run([sys.executable, '-m', 'modelindex', 'check']).stdout
    assert 'All good!' in out, out


def test_every_config_is_indexed_under_its_task():
    import mmcnclip  # noqa: F401
    from mmpretrain import list_models
    from mmpretrain.apis import ModelHub
    with open(osp.join(REPO, 'configs', 'metafile.yml'),
              encoding='utf-8') as f:
        entries = {m['Name']: m for m in yaml.safe_load(f)['Models']}
    classification = set(list_models(task=CLS_TASK))
    retrieval = [set(list_models(task=task)) for task in RETRIEVAL_TASKS]
    for config in CONFIGS:
        name = osp.splitext(osp.basename(config))[0]
        meta = ModelHub.get(name)
        assert osp.samefile(meta.config.filename,
                            osp.join(REPO, 'configs', config)), name
        model_type = meta.config.model.type
        if model_type == 'mmcnclip.ZeroShotClassifier' or \
                'linear-probe' in config:
            assert name in classification, name
        else:
            assert all(name in names for names in retrieval), name
        for result in entries[name]['Results']:
            if result['Metrics']:  # a published number says where
                assert result['Source'].startswith('https://'), name


@pytest.fixture(scope='module')
def shapes_ckpt(tmp_path_factory):
    import mmcnclip  # noqa: F401
    from mmcnclip.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'shapes',
                                   'cn-clip_tiny_shapes.py'))
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('shapes') / 'tiny.pth'
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, path)
    return str(path)


@pytest.mark.parametrize('name', [
    'cn-clip_resnet50_zeroshot-cls_cifar100',
    'cn-clip_resnet50_zeroshot-cls_cifar10',
    'cn-clip_resnet50_zeroshot-cls_imagenet-cn',
    'cn-clip_resnet50_zeroshot-cls_elevater-folder',
    'cn-clip_tiny_shapes_zeroshot'])
def test_inference_model_returns_pred_class(name, rn50_ckpt, shapes_ckpt,
                                            tmp_path):
    from mmpretrain import get_model, inference_model
    ckpt = shapes_ckpt if 'shapes' in name else rn50_ckpt[0]
    model = get_model(name, pretrained=ckpt, text_prompt='single')
    result = inference_model(model, smooth_image(tmp_path / 'a.jpg', 0))
    assert result['pred_class'] == model.classes[result['pred_label']]


def test_inference_model_by_name(rn50_ckpt, tmp_path):
    """The one-liner with the name and the config's own 183 templates."""
    from mmpretrain import inference_model
    result = inference_model('cn-clip_resnet50_zeroshot-cls_cifar10',
                             smooth_image(tmp_path / 'a.jpg', 0),
                             pretrained=rn50_ckpt[0])
    assert result['pred_class'] in ('飞机', '汽车', '鸟', '猫', '鹿', '狗',
                                    '青蛙', '马', '船', '卡车')
