"""Inference preparation: exact weight folding, bf16 with fp32 LayerNorm."""
import pytest
import torch
import torch.nn.functional as F

from mmcnclip.models.inference import (fold_batch_norm_, fold_quick_gelu_,
                                       prepare_for_inference,
                                       to_low_precision)
from mmcnclip.models.layers.transformer import LayerNorm
from mmcnclip.registry import MODELS

TINY = dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=256)
TEXT_PROJ = dict(type='mmcnclip.CLIPProjection', in_channels=64,
                 out_channels=32)
VIT = dict(
    type='mmcnclip.ChineseCLIP',
    backbone=dict(type='mmcnclip.CLIPVisionTransformer', arch=TINY,
                  img_size=64, patch_size=16),
    neck=dict(type='mmcnclip.CLIPProjection', in_channels=64,
              out_channels=32),
    text_encoder=dict(type='mmcnclip.BertTextEncoder', arch=TINY),
    text_proj=TEXT_PROJ)
RESNET = dict(
    type='mmcnclip.ChineseCLIP',
    backbone=dict(type='mmcnclip.ModifiedResNet', depth=50, base_channels=8,
                  img_size=64, output_dims=32, head_width=8),
    text_encoder=dict(type='mmcnclip.BertTextEncoder', arch=TINY),
    text_proj=TEXT_PROJ)
CLASSES = ['猫', '狗', '汽车', '飞机', '一朵红色的花']


def build(cfg, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(cfg).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.normal_(1, 0.1)
                m.bias.normal_(0, 0.1)
    return model


def images(n=24, size=64):
    gen = torch.Generator().manual_seed(1)
    coarse = 2 * torch.randn(n, 3, 4, 4, generator=gen)
    return F.interpolate(coarse, size=(size, size), mode='bilinear') + \
        0.3 * torch.randn(n, 3, size, size, generator=gen)


def features(model, imgs):
    with torch.inference_mode():
        img, txt = model(imgs, CLASSES)
    return img.float(), txt.float()


@pytest.mark.parametrize('cfg', [VIT, RESNET], ids=['vit', 'resnet'])
def test_fp32_preparation_is_exact(cfg):
    imgs = images(4)
    ref = features(build(cfg), imgs)
    model = build(cfg)
    prepare_for_inference(model)
    if cfg is VIT:
        assert not any(isinstance(m, torch.nn.BatchNorm2d)
                       for m in model.modules())
    for a, b in zip(features(model, imgs), ref):
        assert (a - b).abs().max() < 1e-5
    assert not torch.equal(ref[0][0], ref[0][1])


def test_folding_counts_and_guards():
    vit = build(VIT)
    assert fold_quick_gelu_(vit) == 2  # the BERT's exact GELU is untouched
    assert fold_quick_gelu_(vit) == 0
    resnet = build(RESNET)
    with pytest.raises(RuntimeError, match='eval'):
        fold_batch_norm_(resnet.train())
    # stem 3 + 16 bottlenecks x 3 + 4 downsample paths
    assert fold_batch_norm_(resnet.eval()) == 3 + 16 * 3 + 4


@pytest.mark.parametrize('cfg', [VIT, RESNET], ids=['vit', 'resnet'])
def test_bf16_matches_fp32(cfg):
    imgs = images()
    ref_img, ref_txt = features(build(cfg), imgs)
    model = prepare_for_inference(build(cfg), dtype=torch.bfloat16)
    assert model.text_proj.proj.dtype == torch.bfloat16
    norms = [m for m in model.modules() if isinstance(m, LayerNorm)]
    assert norms and all(m.weight.dtype == torch.float32 for m in norms)
    img, txt = features(model, imgs)  # fp32 images are cast by a hook
    assert F.cosine_similarity(img, ref_img).min() > 0.999
    assert F.cosine_similarity(txt, ref_txt).min() > 0.999
    # Zero-shot predictions are unchanged wherever fp32 is not a near-tie.
    ref_logits, logits = ref_img @ ref_txt.t(), img @ txt.t()
    top2 = ref_logits.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 0.005  # bf16 moves cosines < 5e-3
    assert clear.sum() >= len(clear) // 2
    assert torch.equal(ref_logits.argmax(1)[clear], logits.argmax(1)[clear])


def test_low_precision_rejects_fp32():
    with pytest.raises(ValueError, match='dtype'):
        to_low_precision(build(VIT), torch.float32)
