"""Taiyi-CLIP parity: an open_clip image tower (exact GELU, reduced size) and
a transformers BertForSequenceClassification / BertModel text tower, saved in
their native formats, merged into mmcnclip.TaiyiCLIP; features must match."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import mmcnclip  # noqa: F401
from mmcnclip.checkpoint.convert import CheckpointMismatchError
from mmcnclip.registry import MODELS
from conftest import REPO, TEXTS, images

open_clip = pytest.importorskip('open_clip')
transformers = pytest.importorskip('transformers')

TINY = dict(width=64, layers=2, heads=2, patch=14, size=56, embed=32)


def build_open_clip(seed: int = 0):
    """open_clip's ViT-H-14 architecture at reduced width/depth, GELU."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
    torch.manual_seed(seed)
    model = CLIP(
        embed_dim=TINY['embed'],
        vision_cfg=CLIPVisionCfg(
            layers=TINY['layers'], width=TINY['width'],
            head_width=TINY['width'] // TINY['heads'],
            patch_size=TINY['patch'], image_size=TINY['size']),
        text_cfg=CLIPTextCfg(context_length=16, vocab_size=100, width=32,
                             heads=2, layers=1),
        quick_gelu=False)
    with torch.no_grad():  # non-trivial norms and biases
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def build_bert(classifier: bool, seed: int = 0):
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(
        vocab_size=21128, hidden_size=64, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=128,
        num_labels=TINY['embed'])
    cls = (transformers.BertForSequenceClassification
           if classifier else transformers.BertModel)
    return cls(cfg).eval()


def taiyi_cfg(image, text, text_proj_out, image_format='open_clip'):
    arch = dict(embed_dims=64, num_layers=2, num_heads=2,
                feedforward_channels=256)
    return dict(
        type='mmcnclip.TaiyiCLIP',
        backbone=dict(type='mmcnclip.CLIPVisionTransformer', arch=arch,
                      img_size=TINY['size'], patch_size=TINY['patch'],
                      act='gelu'),
        neck=dict(type='mmcnclip.CLIPProjection', in_channels=64,
                  out_channels=TINY['embed']),
        text_encoder=dict(type='mmcnclip.BertTextEncoder',
                          arch=dict(arch, feedforward_channels=128),
                          out_type='pooler'),
        text_proj=dict(type='mmcnclip.TextProjection', in_channels=64,
                       out_channels=text_proj_out),
        pretrained=dict(image=image, text=text, image_format=image_format,
                        text_format='hf_bert'))


def hf_text_features(bert, ids):
    out = bert(input_ids=ids, attention_mask=(ids != 0).long())
    return out.logits if hasattr(out, 'logits') else out.pooler_output


def assert_close_normalised(a, b):
    a = torch.nn.functional.normalize(a, dim=-1)
    b = torch.nn.functional.normalize(b, dim=-1)
    assert a.shape == b.shape
    assert (a - b).abs().max() < 2e-6


@pytest.mark.parametrize('classifier', [True, False],
                         ids=['102M-style-classifier', 'ViT-H-style-pooler'])
def test_taiyi_features_match_open_clip_and_transformers(tmp_path,
                                                         classifier):
    torch.set_num_threads(1)
    oc = build_open_clip()
    bert = build_bert(classifier)
    image_ckpt = str(tmp_path / 'open_clip.bin')
    if classifier:  # full open_clip state dict (visual.* + CLIP text)
        torch.save(oc.state_dict(), image_ckpt)
    else:  # a bare `model.visual` state dict
        torch.save(oc.visual.state_dict(), image_ckpt)
    bert.save_pretrained(str(tmp_path / 'bert'))
    model = MODELS.build(taiyi_cfg(
        image_ckpt, str(tmp_path / 'bert'),
        TINY['embed'] if classifier else None))
    model.init_weights()
    model.eval()
    assert model.backbone.layers[0].mlp.act.__class__ is torch.nn.GELU
    imgs = images(TINY['size'])
    ids = model.tokenize(TEXTS, pad_to_longest=True)
    with torch.no_grad():
        assert_close_normalised(model.encode_image(imgs),
                                oc.encode_image(imgs))
        assert_close_normalised(model.encode_text(ids),
                                hf_text_features(bert, ids))
        # Tokens beyond a text do not change it (padding is masked).
        assert_close_normalised(model.encode_text(TEXTS[:1]),
                                model.encode_text(ids[:1]))
    if classifier:
        assert model.logit_scale.item() == pytest.approx(
            oc.logit_scale.item())


def test_quick_gelu_tower_does_not_match_gelu_open_clip(tmp_path):
    """The act option matters: QuickGELU gives different features."""
    oc = build_open_clip()
    bert = build_bert(True)
    torch.save(oc.state_dict(), str(tmp_path / 'oc.bin'))
    bert.save_pretrained(str(tmp_path / 'bert'))
    cfg = taiyi_cfg(str(tmp_path / 'oc.bin'), str(tmp_path / 'bert'),
                    TINY['embed'])
    cfg['backbone']['act'] = 'quick_gelu'
    model = MODELS.build(cfg)
    model.init_weights()
    with torch.no_grad():
        a = torch.nn.functional.normalize(
            model.eval().encode_image(images(TINY['size'])), dim=-1)
        b = torch.nn.functional.normalize(
            oc.encode_image(images(TINY['size'])), dim=-1)
    assert (a - b).abs().max() > 1e-4


def test_wrong_text_size_is_refused(tmp_path):
    oc = build_open_clip()
    torch.save(oc.state_dict(), str(tmp_path / 'oc.bin'))
    build_bert(True).save_pretrained(str(tmp_path / 'bert'))
    cfg = taiyi_cfg(str(tmp_path / 'oc.bin'), str(tmp_path / 'bert'),
                    TINY['embed'] * 2)
    with pytest.raises(CheckpointMismatchError, match='text_proj'):
        MODELS.build(cfg).init_weights()


@pytest.mark.parametrize('name', ['taiyi-clip_roberta-large-326m_vit-h-14',
                                  'taiyi-clip_roberta-102m_vit-b-32'])
def test_taiyi_configs_build(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'taiyi', f'{name}.py'))
    cfg.model.pretrained = None
    # Published sizes are large: check the config, build on the meta device.
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert model.tokenizer.context_length == 77
    assert model.text_encoder.out_type == 'pooler'
    expected_act = 'GELU' if 'vit-h' in name else 'QuickGELU'
    assert type(model.backbone.layers[0].mlp.act).__name__ == expected_act


@pytest.mark.parametrize('ds', ['cifar100', 'imagenet-cn'])
def test_taiyi_zero_shot_configs_build(ds):
    pytest.importorskip('mmcnclip.models.classifiers.zero_shot')
    name = f'taiyi-clip_roberta-large-326m_vit-h-14_zeroshot-cls_{ds}.py'
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'taiyi', name))
    cfg.model.pretrained = None
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert model.tokenizer.context_length == 77
    assert type(model.backbone.layers[0].mlp.act).__name__ == 'GELU'
    assert model.text_encoder.out_type == 'pooler'


def test_zero_shot_classifier_loads_the_two_towers(tmp_path):
    """The zero-shot configs name the two published towers; the classifier
    merges them like TaiyiCLIP, into the same (shared) layout."""
    oc = build_open_clip()
    torch.save(oc.state_dict(), str(tmp_path / 'oc.bin'))
    build_bert(True).save_pretrained(str(tmp_path / 'bert'))
    cfg = taiyi_cfg(str(tmp_path / 'oc.bin'), str(tmp_path / 'bert'),
                    TINY['embed'])
    two_tower = MODELS.build(cfg)
    two_tower.init_weights()
    classifier = MODELS.build(dict(
        cfg, type='mmcnclip.ZeroShotClassifier', context_length=77,
        text_prototype=['猫', '狗'], text_prompt='single',
        head=dict(progress=False)))
    classifier.init_weights()
    ours, theirs = classifier.state_dict(), two_tower.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    with pytest.raises(ValueError, match='needs `image` and `text`'):
        MODELS.build(dict(cfg, type='mmcnclip.ZeroShotClassifier',
                          pretrained=dict(image='a.bin')))
