"""SimpleFeaturePyramid on its own (the dense env runs it in mmdet)."""
import pytest
import torch
import torch.nn.functional as F

import mmcnclip  # noqa: F401
from mmcnclip.models.necks.simple_pyramid import LayerNorm2d
from mmcnclip.registry import MODELS


def build(**kwargs):
    cfg = dict(type='mmcnclip.SimpleFeaturePyramid', in_channels=32,
               out_channels=8)
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def test_levels_shapes_and_extra_level():
    x = torch.randn(2, 32, 8, 8)  # a stride-16 map of a 128px image
    outs = build()((x, ))
    assert [tuple(o.shape) for o in outs] == [
        (2, 8, 32, 32), (2, 8, 16, 16), (2, 8, 8, 8), (2, 8, 4, 4)]
    outs = build(scales=(2, 1), num_outs=3)((torch.randn(1, 32, 6, 6), ))
    assert [o.shape[-1] for o in outs] == [12, 6, 3]
    assert torch.equal(outs[2], F.max_pool2d(outs[1], 1, stride=2))


def test_layer_norm_2d_normalises_channels():
    norm = LayerNorm2d(8, eps=1e-6)
    x = torch.randn(2, 8, 3, 5)
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (8, ), eps=1e-6)
    assert torch.allclose(norm(x), ref.permute(0, 3, 1, 2), atol=1e-6)


def test_bad_input_and_arguments():
    with pytest.raises(ValueError, match=r'expects a \(B, 32, H, W\)'):
        build()((torch.randn(2, 10, 32), ))
    with pytest.raises(ValueError, match='num_outs=6'):
        build(num_outs=6)
    with pytest.raises(ValueError, match='Unsupported scale 3'):
        build(scales=(3, ))
