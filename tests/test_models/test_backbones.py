"""Output contract, freezing and input-size handling of the encoders."""
import pytest
import torch

from mmcnclip.models.backbones import (BertTextEncoder, CLIPVisionTransformer,
                                       ModifiedResNet)

TINY = dict(embed_dims=64, num_layers=3, num_heads=2, feedforward_channels=96)


def tiny_vit(**kwargs):
    return CLIPVisionTransformer(arch=TINY, img_size=32, patch_size=8,
                                 **kwargs).eval()


@pytest.mark.parametrize('out_type,shape', [('cls_token', (2, 64)),
                                            ('featmap', (2, 64, 4, 4)),
                                            ('avg_featmap', (2, 64)),
                                            ('raw', (2, 17, 64))])
def test_vit_out_types(out_type, shape):
    outs = tiny_vit(out_type=out_type, out_indices=(0, -1))(
        torch.randn(2, 3, 32, 32))
    assert len(outs) == 2 and all(o.shape == shape for o in outs)


def test_vit_other_input_size_interpolates_pos_embed():
    vit = tiny_vit(out_type='featmap')
    assert vit(torch.randn(1, 3, 48, 48))[0].shape == (1, 64, 6, 6)


def test_vit_bad_arguments():
    with pytest.raises(ValueError, match='out_type'):
        tiny_vit(out_type='pool')
    with pytest.raises(IndexError, match='out index 3'):
        tiny_vit(out_indices=3)
    with pytest.raises(ValueError, match='Unknown arch'):
        CLIPVisionTransformer(arch='gigantic')
    with pytest.raises(ValueError, match='misses keys'):
        CLIPVisionTransformer(arch=dict(embed_dims=64))


def test_resnet_stage_maps_and_pool():
    resnet = ModifiedResNet(base_channels=16, output_dims=32, head_width=16,
                            img_size=64, out_indices=(0, 1, 2, 3, 4)).eval()
    outs = resnet(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 16, 16), (1, 128, 8, 8),
                                              (1, 256, 4, 4), (1, 512, 2, 2),
                                              (1, 32)]
    with pytest.raises(ValueError, match='with_attnpool'):
        ModifiedResNet(out_indices=(4, ), with_attnpool=False)


@pytest.mark.parametrize('build,frozen,trainable', [
    (lambda: tiny_vit(frozen_stages=1), 'layers.0.', 'layers.1.'),
    (lambda: BertTextEncoder(arch=TINY, frozen_stages=2), 'layers.1.',
     'layers.2.'),
    (lambda: ModifiedResNet(base_channels=16, output_dims=32, head_width=16,
                            frozen_stages=1), 'layer1.', 'layer2.'),
])
def test_frozen_stages_survive_train(build, frozen, trainable):
    model = build()
    model.train()
    params = dict(model.named_parameters())
    assert not any(p.requires_grad for k, p in params.items()
                   if k.startswith(frozen))
    assert all(p.requires_grad for k, p in params.items()
               if k.startswith(trainable))
    frozen_module = model.get_submodule(frozen.rstrip('.'))
    assert not frozen_module.training
    assert model.get_submodule(trainable.rstrip('.')).training


def test_resnet_norm_eval_keeps_bn_statistics():
    resnet = ModifiedResNet(base_channels=16, output_dims=32, head_width=16,
                            img_size=64, norm_eval=True).train()
    before = resnet.bn1.running_mean.clone()
    resnet(torch.randn(2, 3, 64, 64))
    assert torch.equal(before, resnet.bn1.running_mean)


def test_bert_padding_does_not_change_cls_feature():
    bert = BertTextEncoder(arch=TINY).eval()
    ids = torch.tensor([[101, 872, 1962, 102]])
    padded = torch.cat([ids, torch.zeros(1, 6, dtype=torch.long)], dim=1)
    with torch.no_grad():
        a, b = bert(ids)[0], bert(padded)[0]
    assert torch.allclose(a, b, atol=1e-6)
    assert bert(padded)[0].shape == (1, 64)


def test_resnet_channels_last_only_outside_cpu_training():
    """CPU training keeps the official contiguous layout (channels-last
    training BatchNorm is less accurate on CPU); eval goes channels-last."""
    torch.manual_seed(0)
    resnet = ModifiedResNet(base_channels=16, output_dims=32, head_width=16,
                            img_size=64)
    ref = ModifiedResNet(base_channels=16, output_dims=32, head_width=16,
                         img_size=64).double()
    ref.load_state_dict(resnet.state_dict())
    x = torch.randn(4, 3, 64, 64)
    out, exact = resnet.train()(x)[-1], ref.train()(x.double())[-1]
    assert (out.double() - exact).abs().max() < 1e-4 * exact.abs().max()
    for mode in (False, True):
        resnet.train(mode)
        assert resnet.channels_last == (not mode)
        assert resnet.conv2.weight.is_contiguous(
            memory_format=torch.contiguous_format if mode
            else torch.channels_last)
