"""Low-memory loading: load_pretrained builds without init and assigns."""
import pytest
import torch

from mmcnclip.checkpoint import CheckpointMismatchError
from mmcnclip.checkpoint.low_memory import load_pretrained
from mmcnclip.registry import MODELS

TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
CFG = dict(
    type='mmcnclip.ChineseCLIP',
    backbone=dict(type='mmcnclip.CLIPVisionTransformer', arch=TINY,
                  img_size=32, patch_size=8),
    neck=dict(type='mmcnclip.CLIPProjection', in_channels=32,
              out_channels=16),
    text_encoder=dict(type='mmcnclip.BertTextEncoder', arch=TINY,
                      vocab_size=21128),
    text_proj=dict(type='mmcnclip.CLIPProjection', in_channels=32,
                   out_channels=16))


def official_layout(model, half):
    """The model's weights under the official cn_clip key names."""
    inverse = {
        'backbone.patch_embed.weight': 'visual.conv1.weight',
        'backbone.cls_token': 'visual.class_embedding',
        'backbone.pos_embed': 'visual.positional_embedding',
        'neck.proj': 'visual.proj', 'text_proj.proj': 'text_projection',
    }
    out = {}
    for k, v in model.state_dict().items():
        v = v.half() if half and v.is_floating_point() else v.clone()
        if k.startswith('text_encoder.') or k == 'logit_scale':
            out[k] = v  # mmcnclip layout for the text side is also valid
        else:
            out[inverse.get(k, k)] = v
    return out


@pytest.mark.parametrize('half', [False, True])
def test_load_pretrained_from_config(tmp_path, half):
    torch.manual_seed(0)
    ref = MODELS.build(CFG).eval()
    path = tmp_path / 'ckpt.pt'
    state = {f'module.{k}': v.half() if half and v.is_floating_point()
             else v for k, v in ref.state_dict().items()}
    torch.save({'state_dict': state}, path)
    model = load_pretrained(CFG, str(path)).eval()
    for key, value in ref.state_dict().items():
        loaded = model.state_dict()[key]
        expected = value.half().to(value.dtype) if half and \
            value.is_floating_point() else value
        assert loaded.dtype == value.dtype, key
        assert loaded.is_contiguous(), key
        assert torch.equal(loaded, expected), key
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            model(images, ['一只猫']), ref(images, ['一只猫']),
            atol=1e-2 if half else 0, rtol=0)


def test_load_pretrained_into_instance_keeps_requires_grad(tmp_path):
    torch.manual_seed(0)
    ref = MODELS.build(CFG)
    path = tmp_path / 'ckpt.pt'
    torch.save(ref.state_dict(), path)
    model = MODELS.build({**CFG, 'backbone': {**CFG['backbone'],
                                              'frozen_stages': 1}})
    load_pretrained(model, str(path))
    assert not model.backbone.patch_embed.weight.requires_grad
    assert model.text_proj.proj.requires_grad
    assert torch.equal(model.neck.proj, ref.neck.proj)


def test_load_pretrained_rejects_other_model(tmp_path):
    other = MODELS.build({**CFG, 'neck': dict(
        type='mmcnclip.CLIPProjection', in_channels=32, out_channels=8)})
    path = tmp_path / 'ckpt.pt'
    torch.save(other.state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match='neck.proj'):
        load_pretrained(CFG, str(path))
