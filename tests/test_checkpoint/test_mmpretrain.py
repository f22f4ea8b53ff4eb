"""Checkpoints of mmpretrain's own ``ChineseCLIP`` load with exact features.

The oracle is mmpretrain's model itself, built from the zero-shot configs
it ships, given random weights and saved the way mmengine saves a model.
"""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint, save_checkpoint

from conftest import TEXTS, images, model_config, randomize_
from mmcnclip.registry import MODELS
from tiny_models import tiny_config

IMAGE_TOL, LOGIT_TOL = 2e-6, 1e-4

#: our model name -> mmpretrain's zero-shot config
MMPRETRAIN_CONFIGS = {
    'RN50': 'cn-clip_resnet50_zeroshot-cls_cifar100.py',
    'ViT-B-16': 'cn-clip_vit-base-p16_zeroshot-cls_cifar100.py',
}


def mmpretrain_config(name: str):
    """mmpretrain's zero-shot model config; ``'tiny-vit'`` shrinks the
    ViT-B/16 one to the size of :func:`tiny_models.tiny_config`."""
    import mmpretrain
    cfg_dir = osp.join(
        osp.dirname(mmpretrain.__file__), '.mim', 'configs', 'chinese_clip')
    base = 'ViT-B-16' if name == 'tiny-vit' else name
    cfg = Config.fromfile(osp.join(cfg_dir, MMPRETRAIN_CONFIGS[base])).model
    if name == 'tiny-vit':
        cfg.vision_backbone.update(
            arch=dict(embed_dims=64, num_layers=2, num_heads=1,
                      feedforward_channels=256),
            img_size=56, patch_size=14)
        cfg.text_backbone.config.update(
            hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=128, max_position_embeddings=64)
        cfg.proj_dim = 32
    return cfg


def build_mmpretrain(name: str):
    """mmpretrain's ChineseCLIP with seeded random weights, in eval mode."""
    cn_clip = pytest.importorskip('cn_clip')
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    cfg = mmpretrain_config(name)
    # The config points to a download; cn_clip ships the same vocabulary.
    cfg.tokenizer.vocab_file = osp.join(
        osp.dirname(cn_clip.__file__), 'clip', 'vocab.txt')
    cfg.text_prototype = ['猫', '狗']
    torch.manual_seed(0)
    # Activation layers (QuickGELU) are looked up in the default scope.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MMPRETRAIN_MODELS.build(cfg)
    randomize_(model, seed=7)
    return model.eval()


@pytest.mark.parametrize(
    'name', ['RN50', 'tiny-vit',
             pytest.param('ViT-B-16', marks=pytest.mark.slow)])
def test_mmpretrain_checkpoint(name, tmp_ckpt):
    theirs = build_mmpretrain(name)
    save_checkpoint({'meta': {'mmpretrain_version': '1.2.0'},
                     'state_dict': theirs.state_dict()}, tmp_ckpt)
    ours = MODELS.build(tiny_config() if name == 'tiny-vit' else
                        model_config(name)).eval()
    load_checkpoint(ours, tmp_ckpt, map_location='cpu')

    size = 56 if name == 'tiny-vit' else 224
    pixels = images(size)
    ids = ours.tokenize(TEXTS)
    # mmpretrain's own tokenizer gives the same ids.
    assert torch.equal(theirs.tokenize(TEXTS), ids)
    with torch.no_grad():
        ref_img = F.normalize(theirs.extract_image_feat(pixels), dim=-1)
        ref_txt = F.normalize(theirs.extract_text_feat(ids), dim=-1)
        img, txt = ours(pixels, ids)
        assert torch.equal(ours.logit_scale, theirs.logit_scale)
        scale = theirs.logit_scale.exp()
    assert (ref_img[0] - ref_img[1]).abs().max() > 1e-3
    assert (ref_txt[0] - ref_txt[1]).abs().max() > 1e-3
    assert (img - ref_img).abs().max() < IMAGE_TOL
    assert (txt - ref_txt).abs().max() < IMAGE_TOL
    logits = scale * img @ txt.t()
    assert (logits - scale * ref_img @ ref_txt.t()).abs().max() < LOGIT_TOL
