"""FusedConv2d/FusedBottleneck: oneDNN conv + ReLU (+ residual add) on CPU,
PyTorch ops elsewhere; int8 preparation keeps features close to fp32."""
import copy
import pickle

import pytest
import torch
import torch.nn.functional as F
from test_inference import RESNET, VIT, build, images

from mmcnclip.models.inference import prepare_for_inference
from mmcnclip.models.layers.fused_conv import (FusedBottleneck, FusedConv2d,
                                               onednn_conv_available)


def _conv():
    torch.manual_seed(0)
    return torch.nn.Conv2d(8, 16, 3, padding=1)


@pytest.mark.skipif(not onednn_conv_available(), reason='no oneDNN')
@pytest.mark.parametrize('layout', [torch.contiguous_format,
                                    torch.channels_last])
def test_matches_conv_relu_and_residual(layout):
    conv = _conv()
    fused = FusedConv2d(conv)
    x = torch.randn(2, 8, 10, 10).contiguous(memory_format=layout)
    res = torch.randn(2, 16, 10, 10)
    with torch.inference_mode():
        assert fused._runs_onednn(x)
        torch.testing.assert_close(fused(x), F.relu(conv(x)))
        torch.testing.assert_close(fused(x, res), F.relu(conv(x) + res))


@pytest.mark.skipif(not onednn_conv_available(), reason='no oneDNN')
def test_reordered_weights_follow_the_parameters():
    conv = _conv()
    fused = FusedConv2d(conv)
    x = torch.randn(2, 8, 10, 10).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        fused(x)
        first = fused.packed._entry[1]
        fused(x)
        assert fused.packed._entry[1] is first  # reordered once per shape
        conv.weight.mul_(-1)  # new values: reordered again
        torch.testing.assert_close(fused(x), F.relu(conv(x)))
        fused(x[:1])  # new input shape
        assert fused.packed.key == (1, 8, 10, 10)
    for copied in (copy.deepcopy(fused), pickle.loads(pickle.dumps(fused))):
        assert copied.packed.key is None
        with torch.no_grad():
            torch.testing.assert_close(copied(x), F.relu(conv(x)))


def test_autograd_falls_back_to_pytorch():
    conv = _conv()
    fused = FusedConv2d(conv, relu=False)
    x = torch.randn(1, 8, 6, 6, requires_grad=True)
    assert not fused._runs_onednn(x)
    fused(x).sum().backward()
    assert conv.weight.grad is not None


def test_prepared_resnet_uses_fused_bottlenecks():
    model = prepare_for_inference(build(RESNET))
    assert sum(isinstance(m, FusedBottleneck) for m in model.modules()) == 16
    # every convolution is fused: stem (ReLU inside), blocks, shortcuts
    assert not any(isinstance(m, (torch.nn.Conv2d, torch.nn.ReLU))
                   for m in model.backbone.modules())
    assert sum(isinstance(m, FusedConv2d)
               for m in model.backbone.modules()) == 3 + 16 * 3 + 4
    assert not any(k.split('.')[-2].startswith('bn')
                   for k in model.state_dict() if '.' in k
                   and 'layer' in k)


@pytest.mark.parametrize('cfg', [VIT, RESNET], ids=['vit', 'resnet'])
def test_int8_features_close_to_fp32(cfg):
    imgs = images(4)
    fp32, int8 = (prepare_for_inference(build(cfg), dtype=dtype)
                  for dtype in (None, torch.qint8))
    with torch.inference_mode():
        a, b = (F.normalize(m.encode_image(imgs), dim=-1)
                for m in (fp32, int8))
        ta, tb = (F.normalize(m.encode_text(m.tokenize(['猫', '一只狗'])),
                              dim=-1) for m in (fp32, int8))
    assert (a * b).sum(-1).min() > 0.99
    assert (ta * tb).sum(-1).min() > 0.99
