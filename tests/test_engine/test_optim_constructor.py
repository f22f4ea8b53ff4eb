"""OfficialParamGroupsConstructor gives the weight-decay groups of
``cn_clip/training/main.py``, decided there on the official names."""
import pytest
import torch
from mmengine.config import Config
from test_checkpoint.tiny_models import tiny_config, tiny_official

from conftest import REPO
from mmcnclip.checkpoint.convert import convert_state_dict
from mmcnclip.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS


def official_exclude(name: str) -> bool:
    """The rule of cn_clip/training/main.py (``exclude``), verbatim."""
    return ('bn' in name or 'ln' in name or 'bias' in name
            or 'logit_scale' in name)


def resnet_config():
    cfg = tiny_config()
    cfg['backbone'] = dict(type='mmcnclip.ModifiedResNet', depth=50,
                           base_channels=16, img_size=64, output_dims=32)
    cfg['neck'] = None
    return cfg


@pytest.mark.parametrize('official_kwargs, config', [
    (dict(), tiny_config()),
    (dict(img_size=64, layers=(3, 4, 6, 3), width=16), resnet_config()),
], ids=['vit', 'resnet'])
def test_groups_match_the_official_names(official_kwargs, config):
    official = tiny_official(**official_kwargs)
    # 1 marks the official no-decay group; converted onto our names (fused
    # q/k/v parts must agree, so a mixed tensor would fail below)
    marks = {n: torch.full_like(p, float(official_exclude(n)))
             for n, p in official.named_parameters()}
    expected = {k: v.unique().tolist()
                for k, v in convert_state_dict(marks, 'official')[0].items()}

    model = MODELS.build(config)
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='mmcnclip.OfficialParamGroupsConstructor',
        optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=1e-3,
                                              weight_decay=0.1))))
    groups = constructor(model).optimizer.param_groups
    assert [g['weight_decay'] for g in groups] == [0., 0.1]
    no_decay = {id(p) for p in groups[0]['params']}
    ours = {n: [float(id(p) in no_decay)]
            for n, p in model.named_parameters()}
    assert ours == expected
    # the official quirks: BERT LayerNorm weights are decayed, image-tower
    # norms are not, the ResNet downsample BatchNorm weight is decayed
    assert ours['text_encoder.layers.0.ln1.weight'] == [0.]
    assert ours['text_encoder.layers.0.ln1.bias'] == [1.]
    if 'backbone.layer1.0.downsample.1.weight' in ours:
        assert ours['backbone.layer1.0.downsample.1.weight'] == [0.]
        assert ours['backbone.layer1.0.bn1.weight'] == [1.]
    else:
        assert ours['backbone.layers.0.ln1.weight'] == [1.]


def test_frozen_parameters_are_left_out_and_paramwise_cfg_refused():
    model = MODELS.build(dict(tiny_config(), freeze_vision=True))
    cfg = dict(type='mmcnclip.OfficialParamGroupsConstructor',
               optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=1e-3)))
    groups = OPTIM_WRAPPER_CONSTRUCTORS.build(cfg)(
        model).optimizer.param_groups
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    grouped = {id(p) for g in groups for p in g['params']}
    assert grouped == trainable and len(trainable) < len(
        list(model.parameters()))
    with pytest.raises(ValueError, match='paramwise_cfg'):
        OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(cfg, paramwise_cfg=dict(norm_decay_mult=0.)))


def test_finetune_schedule_uses_the_official_groups():
    cfg = Config.fromfile(
        f'{REPO}/configs/cn-clip_resnet50_retrieval_muge-finetune.py')
    assert cfg.optim_wrapper.constructor == \
        'mmcnclip.OfficialParamGroupsConstructor'
    assert 'paramwise_cfg' not in cfg.optim_wrapper
