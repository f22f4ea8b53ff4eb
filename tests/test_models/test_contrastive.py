"""ChineseCLIP 'loss'/'predict' modes, frozen vision, gathered negatives."""
import math

import pytest
import torch
import torch.nn.functional as F
from helpers.processes import spawn_workers
from mmpretrain.structures import DataSample

from mmcnclip.models import ChineseCLIP
from mmcnclip.models.losses import CLIPContrastiveLoss

TEXTS = ['一个红色的圆形', '蓝色方块', '绿色三角形', '黄色的星星']


def tiny(**kwargs):
    torch.manual_seed(0)
    cfg = dict(
        backbone=dict(type='mmcnclip.CLIPVisionTransformer',
                      arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                                feedforward_channels=64),
                      img_size=16, patch_size=8),
        neck=dict(type='mmcnclip.CLIPProjection', in_channels=32,
                  out_channels=16),
        text_encoder=dict(type='mmcnclip.BertTextEncoder',
                          arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                                    feedforward_channels=64),
                          max_position=64, drop_rate=0., attn_drop_rate=0.),
        text_proj=dict(type='mmcnclip.CLIPProjection', in_channels=32,
                       out_channels=16))
    cfg.update(kwargs)
    return ChineseCLIP(**cfg)


def batch(n=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, 16, 16, generator=gen)
    samples = [DataSample(text=TEXTS[i % len(TEXTS)]) for i in range(n)]
    return images, samples


def reference_loss(model, images, texts):
    """The formula of cn_clip/training/train.py get_loss, written out."""
    img = F.normalize(model.encode_image(images), dim=-1)
    txt = F.normalize(model.encode_text(texts), dim=-1)
    logits = model.logit_scale.exp() * img @ txt.t()
    y = torch.arange(len(texts))
    return (F.cross_entropy(logits, y) + F.cross_entropy(logits.t(), y)) / 2


def test_loss_mode_matches_formula_and_clamps_scale():
    model = tiny()
    images, samples = batch()
    out = model(images, data_samples=samples, mode='loss')
    ref = reference_loss(model, images, TEXTS)
    assert torch.allclose(out['loss'], ref, atol=1e-6)
    out['loss'].backward()
    assert model.logit_scale.grad is not None
    assert model.backbone.patch_embed.weight.grad.abs().sum() > 0
    with torch.no_grad():
        model.logit_scale.fill_(7.0)
    out = model(images, data_samples=samples, mode='loss')
    assert model.logit_scale.item() == pytest.approx(math.log(100))
    assert out['logit_scale'].item() == pytest.approx(100, rel=1e-5)
    with pytest.raises(ValueError, match='one text per image'):
        model(images, data_samples=samples[:2], mode='loss')


def test_predict_mode_mixed_gallery_batch():
    model = tiny().eval()
    images, _ = batch(2)
    pre = model.data_preprocessor
    raw = [(images[0] * 50 + 128).clamp(0, 255).to(torch.uint8), None,
           (images[1] * 50 + 128).clamp(0, 255).to(torch.uint8)]
    samples = [DataSample(image_id=1), DataSample(text='蓝色方块'),
               DataSample(image_id=2)]
    data = pre(dict(inputs=raw, data_samples=samples))
    assert data['images'].shape == (2, 3, 16, 16)
    out = model(**data, mode='predict')
    with torch.no_grad():
        feats = model(data['images'])
        tfeat = model(texts=['蓝色方块'])
    assert torch.allclose(out[0].image_feat, feats[0], atol=1e-6)
    assert torch.allclose(out[2].image_feat, feats[1], atol=1e-6)
    assert torch.allclose(out[1].text_feat, tfeat[0], atol=1e-6)
    assert 'text_feat' not in out[0] and 'image_feat' not in out[1]


def test_freeze_vision_keeps_bn_eval_and_no_grads():
    model = tiny(backbone=dict(type='mmcnclip.ModifiedResNet', depth=50,
                               output_dims=16),
                 neck=None)
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    frozen = tiny(backbone=dict(type='mmcnclip.ModifiedResNet', depth=50,
                                output_dims=16),
                  neck=None, freeze_vision=True)
    frozen.load_state_dict(model.state_dict())
    frozen.train()
    bns = [m for m in frozen.backbone.modules()
           if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    assert frozen.text_encoder.training
    images = torch.randn(2, 3, 32, 32)
    out = frozen(images, data_samples=[DataSample(text=t) for t in
                                       TEXTS[:2]], mode='loss')
    out['loss'].backward()
    assert all(p.grad is None for p in frozen.backbone.parameters())
    assert frozen.text_proj.proj.grad is not None
    for k, v in frozen.backbone.state_dict().items():  # BN stats unchanged
        assert torch.equal(v, before[k]), k


def test_with_cp_passthrough():
    model = tiny(with_cp=True)
    assert model.backbone.with_cp and model.text_encoder.with_cp
    images, samples = batch()
    ref = reference_loss(tiny(), images, TEXTS)
    assert torch.allclose(model(images, data_samples=samples,
                                mode='loss')['loss'], ref, atol=1e-6)


def _worker(rank, store):
    """One of two gloo ranks; returns plain floats and NumPy arrays (see
    ``helpers.processes.spawn_workers``)."""
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'file://{store}',
                            rank=rank, world_size=2)
    torch.set_num_threads(1)
    images, samples = batch(4)
    out = {}
    for name, loss_cfg in (
            ('grad', dict(type='mmcnclip.CLIPContrastiveLoss')),
            ('nograd', dict(type='mmcnclip.CLIPContrastiveLoss',
                            gather_with_grad=False)),
            ('local', dict(type='mmcnclip.CLIPContrastiveLoss',
                           gather=False))):
        model = tiny(loss=loss_cfg)
        part = slice(2 * rank, 2 * rank + 2)
        loss = model(images[part], data_samples=samples[part],
                     mode='loss')['loss']
        loss.backward()
        grad = model.text_proj.proj.grad.clone()
        dist.all_reduce(grad)  # what DDP does (then divides by world size)
        out[name] = (loss.item(), (grad / 2).numpy())
    dist.destroy_process_group()
    return out


def test_gather_with_grad_two_gloo_ranks(tmp_path):
    """Each rank holds half of a batch. With gathered negatives the loss is
    the full-batch loss and the DDP-averaged gradient equals the
    single-process full-batch gradient; local-only differs."""
    results = spawn_workers(_worker, 2, str(tmp_path / 'store'))
    model = tiny()
    images, samples = batch(4)
    full = model(images, data_samples=samples, mode='loss')['loss']
    full.backward()
    full_grad = model.text_proj.proj.grad
    for rank in (0, 1):
        loss, grad = results[rank]['grad']
        grad = torch.from_numpy(grad)
        assert loss == pytest.approx(full.item(), abs=1e-5)
        assert torch.allclose(grad, full_grad, atol=1e-5)
        # without grad through the gathered part: same loss, 1/world grad
        loss, grad = results[rank]['nograd']
        grad = torch.from_numpy(grad)
        assert loss == pytest.approx(full.item(), abs=1e-5)
        assert not torch.allclose(grad, full_grad, atol=1e-5)
        assert results[rank]['local'][0] != pytest.approx(full.item(),
                                                          abs=1e-3)


def test_loss_module_checks_shapes():
    with pytest.raises(ValueError, match='pair up'):
        CLIPContrastiveLoss()(torch.randn(2, 4), torch.randn(3, 4),
                              torch.tensor(1.))


def test_no_decay_groups_and_autocast_train_step():
    """The no-decay paramwise pattern of the finetune configs, and a train
    step under the autocast that mmengine's AmpOptimWrapper uses (bf16 on
    CPU here; AmpOptimWrapper itself needs an accelerator)."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner.amp import autocast
    model = tiny()
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.98), eps=1e-6,
                       weight_decay=0.1),
        paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                           custom_keys={'logit_scale': dict(decay_mult=0.)})))
    decay = {id(p): g['weight_decay'] for g in wrapper.param_groups
             for p in g['params']}
    names = dict(model.named_parameters())
    assert decay[id(names['logit_scale'])] == 0
    assert decay[id(names['backbone.pre_norm.weight'])] == 0
    assert decay[id(names['text_encoder.layers.0.mlp.fc1.bias'])] == 0
    assert decay[id(names['text_encoder.layers.0.mlp.fc1.weight'])] == 0.1
    images, samples = batch()
    data = model.data_preprocessor(dict(inputs=images * 40 + 120,
                                        data_samples=samples), True)
    with autocast(device_type='cpu', dtype=torch.bfloat16):
        loss = model(**data, mode='loss')['loss']
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    before = names['text_proj.proj'].detach().clone()
    wrapper.update_params(loss)
    assert not torch.equal(before, names['text_proj.proj'])
