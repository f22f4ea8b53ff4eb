"""A checkpoint that does not fit the model is refused, loudly and whole.

Tiny custom-size official ``cn_clip`` models stand in for the published
sizes where the test is about key handling, not about a published size.
"""
import logging

import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import load_checkpoint

from conftest import build_official, images, model_config, save_official
from mmcnclip.checkpoint import CheckpointMismatchError
from mmcnclip.registry import MODELS
from tiny_models import tiny_config, tiny_official

LOADERS = ['load_state_dict', 'load_checkpoint(strict=False)']


def official_state_dict(model):
    """What :func:`save_official` writes, as a dict (``module.`` keys)."""
    return {f'module.{k}': v for k, v in model.state_dict().items()}


@pytest.fixture(scope='module')
def tiny_ckpt():
    return official_state_dict(tiny_official())


@pytest.fixture
def tiny_model():
    return MODELS.build(tiny_config()).eval()


def assert_refused(model, state_dict, loader, tmp_path, *names):
    """Loading must raise naming every one of ``names`` and change
    nothing in ``model``."""
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        if loader == 'load_state_dict':
            model.load_state_dict(state_dict)
        else:
            path = tmp_path / 'bad.pth'
            torch.save({'state_dict': state_dict}, path)
            try:
                load_checkpoint(model, str(path), map_location='cpu',
                                strict=False)
            finally:
                path.unlink()
    for name in names:
        assert name in str(err.value), str(err.value)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), \
        'a refused checkpoint was partly loaded'
    return str(err.value)


def test_tiny_models_fit(tiny_ckpt, tiny_model):
    """The positive control: the unmodified checkpoint loads."""
    tiny_model.load_state_dict(tiny_ckpt)
    assert torch.equal(tiny_model.backbone.pos_embed,
                       tiny_ckpt['module.visual.positional_embedding'])


@pytest.fixture(scope='module')
def rn50_into_vit_b16():
    """A published-size RN50 checkpoint and a ViT-B/16 model (a refused
    load leaves the model untouched, so both loaders can share them)."""
    return (official_state_dict(build_official('RN50')),
            MODELS.build(model_config('ViT-B-16')))


@pytest.mark.parametrize('loader', LOADERS)
def test_resnet_checkpoint_into_vit(loader, rn50_into_vit_b16, tmp_path):
    ckpt, model = rn50_into_vit_b16
    msg = assert_refused(model, ckpt, loader, tmp_path,
                         'backbone.cls_token', 'backbone.conv1.weight',
                         'text_proj.proj: checkpoint (768, 1024) vs model '
                         '(768, 512)')
    assert 'missing keys' in msg and 'unexpected keys' in msg


@pytest.mark.parametrize('loader', LOADERS)
def test_smaller_vit_into_larger_vit(loader, tmp_path):
    """The B/16 -> L/14 situation in toy size: other patch size, width and
    depth."""
    small = official_state_dict(tiny_official(img_size=64, patch=16))
    large = MODELS.build(tiny_config(width=128, layers=3))
    assert_refused(large, small, loader, tmp_path,
                   'backbone.patch_embed.weight: checkpoint (64, 3, 16, 16) '
                   'vs model (128, 3, 14, 14)', 'backbone.layers.2.ln1.weight',
                   'neck.proj')


@pytest.mark.slow
def test_vit_b16_into_vit_l14(tmp_path):
    """The published sizes of :func:`test_smaller_vit_into_larger_vit`."""
    ckpt = official_state_dict(build_official('ViT-B-16'))
    model = MODELS.build(model_config('ViT-L-14'))
    assert_refused(model, ckpt, 'load_checkpoint(strict=False)', tmp_path,
                   'backbone.patch_embed.weight: checkpoint (768, 3, 16, 16)'
                   ' vs model (1024, 3, 14, 14)')


@pytest.mark.parametrize('loader', LOADERS)
def test_truncated_checkpoint(loader, tiny_ckpt, tiny_model, tmp_path):
    cut = {k: v for k, v in tiny_ckpt.items()
           if '.resblocks.1.' not in k}
    assert len(cut) < len(tiny_ckpt)
    assert_refused(tiny_model, cut, loader, tmp_path,
                   'missing keys (12)', 'backbone.layers.1.attn.qkv.weight',
                   'backbone.layers.1.mlp.fc2.bias')


@pytest.mark.parametrize('loader', LOADERS)
def test_half_of_an_attention_is_missing(loader, tiny_ckpt, tiny_model,
                                         tmp_path):
    cut = dict(tiny_ckpt)
    del cut['module.bert.encoder.layer.1.attention.self.key.weight']
    assert_refused(tiny_model, cut, loader, tmp_path,
                   'text_encoder.layers.1.attn.qkv.weight')


@pytest.mark.parametrize('loader', LOADERS)
def test_unknown_extra_keys(loader, tiny_ckpt, tiny_model, tmp_path):
    extra = dict(tiny_ckpt)
    extra['module.visual.extra_head.weight'] = torch.zeros(3)
    extra['module.bert.encoder.layer.0.adapter.weight'] = torch.zeros(3)
    assert_refused(tiny_model, extra, loader, tmp_path,
                   'visual.extra_head.weight',
                   'bert.encoder.layer.0.adapter.weight')


@pytest.mark.parametrize('loader', LOADERS)
def test_unexpected_keys_in_our_layout(loader, tiny_model, tmp_path):
    ours = dict(tiny_model.state_dict())
    ours['backbone.extra.weight'] = torch.zeros(3)
    assert_refused(tiny_model, ours, loader, tmp_path,
                   'unexpected keys (1): backbone.extra.weight')


@pytest.mark.parametrize('loader', LOADERS)
def test_unrelated_state_dict(loader, tiny_model, tmp_path):
    torchvision = pytest.importorskip('torchvision')
    resnet = torchvision.models.resnet18(weights=None).state_dict()
    assert_refused(tiny_model, resnet, loader, tmp_path,
                   'Not a Chinese CLIP checkpoint', 'conv1.weight')


def test_position_embedding_is_resized_like_cn_clip(tmp_ckpt):
    """The L/14 -> L/14@336 situation in toy size: a 4x4 grid checkpoint
    loads into a 6x6 grid model exactly as cn_clip resizes it."""
    from cn_clip.clip.model import resize_pos_embed
    small = tiny_official(img_size=56)
    save_official(small, tmp_ckpt)
    ours = MODELS.build(tiny_config(img_size=84)).eval()
    load_checkpoint(ours, tmp_ckpt, map_location='cpu')

    big = tiny_official(img_size=84, seed=1)
    state = dict(small.state_dict())
    resize_pos_embed(state, big)
    big.load_state_dict(state)
    assert ours.backbone.pos_embed.shape == (1 + 6 * 6, 64)
    assert torch.equal(ours.backbone.pos_embed,
                       big.visual.positional_embedding)
    pixels = images(84)
    with torch.no_grad():
        ref = F.normalize(big.encode_image(pixels), dim=-1)
        img = ours(pixels)
    assert (img - ref).abs().max() < 2e-6


@pytest.mark.parametrize('loader', LOADERS)
@pytest.mark.parametrize('shape', [(17, 32), (18, 64), (17, 64, 1)])
def test_position_embedding_of_another_shape_is_refused(
        loader, shape, tiny_ckpt, tiny_model, tmp_path):
    """Only the token-grid length may differ: another width, a non-square
    grid or another rank is a mismatch, not a silent random pos_embed."""
    bad = dict(tiny_ckpt)
    bad['module.visual.positional_embedding'] = torch.randn(shape)
    assert_refused(tiny_model, bad, loader, tmp_path,
                   f'backbone.pos_embed: checkpoint {shape} vs model (17, 64)')


def test_position_embedding_resize_is_a_warning(tiny_ckpt, mm_log):
    ours = MODELS.build(tiny_config(img_size=84))
    ours.load_state_dict(tiny_ckpt)
    assert ours.backbone.pos_embed.shape == (1 + 6 * 6, 64)
    assert any('backbone.pos_embed' in m and 'from a 4x4 to the 6x6 token '
               'grid' in m for m in mm_log.messages(logging.WARNING)), \
        mm_log.messages(logging.WARNING)
