"""Hugging Face ``ChineseCLIPModel`` checkpoints load with exact features."""
import os.path as osp
import shutil

import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import load_checkpoint

from conftest import TEXTS, images, model_config, randomize_
from mmcnclip.checkpoint import convert_state_dict, detect_format
from mmcnclip.registry import MODELS

IMAGE_TOL, LOGIT_TOL = 2e-6, 1e-4

transformers = pytest.importorskip('transformers')


def hf_vit_b16_config():
    """The ``transformers`` config of OFA-Sys/chinese-clip-vit-base-patch16."""
    text = dict(
        vocab_size=21128, hidden_size=768, num_hidden_layers=12,
        num_attention_heads=12, intermediate_size=3072, hidden_act='gelu',
        max_position_embeddings=512, type_vocab_size=2,
        layer_norm_eps=1e-12)
    vision = dict(
        hidden_size=768, intermediate_size=3072, projection_dim=512,
        num_hidden_layers=12, num_attention_heads=12, image_size=224,
        patch_size=16, hidden_act='quick_gelu', layer_norm_eps=1e-5)
    return transformers.ChineseCLIPConfig(
        text_config=text, vision_config=vision, projection_dim=512)


@pytest.fixture(scope='module')
def hf_model():
    torch.manual_seed(0)
    model = transformers.ChineseCLIPModel(hf_vit_b16_config())
    randomize_(model, seed=3)
    return model.eval()


@pytest.fixture(scope='module')
def hf_files(hf_model, tmp_path_factory):
    """The files ``save_pretrained`` writes, in both serialisations."""
    root = tmp_path_factory.mktemp('hf')
    safe_dir, bin_dir = str(root / 'safe'), str(root / 'bin')
    hf_model.save_pretrained(safe_dir)
    hf_model.save_pretrained(bin_dir, safe_serialization=False)
    yield {
        'folder': safe_dir,
        'model.safetensors': osp.join(safe_dir, 'model.safetensors'),
        'pytorch_model.bin': osp.join(bin_dir, 'pytorch_model.bin'),
    }
    shutil.rmtree(root)


@pytest.fixture(scope='module')
def reference(hf_model):
    """L2-normalised HF features and logit scale on shared inputs."""
    pixels = images(224)
    ids = MODELS.build(model_config('ViT-B-16')).tokenize(TEXTS)
    with torch.no_grad():
        img = F.normalize(
            hf_model.get_image_features(pixel_values=pixels), dim=-1)
        txt = F.normalize(
            hf_model.get_text_features(
                input_ids=ids, attention_mask=(ids != 0).long()), dim=-1)
    # Guard against a vacuous comparison: features must differ per input.
    assert (img[0] - img[1]).abs().max() > 1e-3
    assert (txt[0] - txt[1]).abs().max() > 1e-3
    return pixels, ids, img, txt, hf_model.logit_scale.detach().clone()


@pytest.fixture(scope='module')
def ours():
    return MODELS.build(model_config('ViT-B-16')).eval()


def published_state_dict(hf_model):
    """HF weights plus the extras of published checkpoints: the unused BERT
    pooler and the ``position_ids`` buffers older transformers saved."""
    sd = dict(hf_model.state_dict())
    gen = torch.Generator().manual_seed(5)
    sd['text_model.pooler.dense.weight'] = torch.randn(768, 768,
                                                       generator=gen)
    sd['text_model.pooler.dense.bias'] = torch.randn(768, generator=gen)
    sd['text_model.embeddings.position_ids'] = torch.arange(512)[None]
    sd['vision_model.embeddings.position_ids'] = torch.arange(197)[None]
    return sd


def assert_matches(model, reference):
    pixels, ids, ref_img, ref_txt, ref_scale = reference
    with torch.no_grad():
        img, txt = model(pixels, ids)
    assert torch.equal(model.logit_scale.detach(), ref_scale)
    assert (img - ref_img).abs().max() < IMAGE_TOL
    assert (txt - ref_txt).abs().max() < IMAGE_TOL
    scale = ref_scale.exp()
    logits = scale * img @ txt.t()
    assert (logits - scale * ref_img @ ref_txt.t()).abs().max() < LOGIT_TOL


def wipe_(model):
    """Zero every weight so that a test cannot pass on a previous load."""
    with torch.no_grad():
        for t in model.state_dict().values():
            t.zero_()


def test_exact_hf_keys_are_all_mapped(hf_model, ours):
    """Every key transformers writes has a rule; none is dropped."""
    sd = hf_model.state_dict()
    assert detect_format(sd) == 'huggingface'
    converted, fmt = convert_state_dict(sd)
    assert fmt == 'huggingface'
    expected = {k: v.shape for k, v in ours.state_dict().items()
                if not k.startswith('data_preprocessor.')}
    assert {k: v.shape for k, v in converted.items()} == expected
    # Per layer and tower, the 6 HF q/k/v weights and biases fuse into 2 of
    # ours; every other key maps one to one.
    assert len(sd) - 2 * 12 * 4 == len(converted)


@pytest.mark.parametrize('variant',
                         ['folder', 'model.safetensors', 'pytorch_model.bin'])
def test_hf_files_match(variant, hf_files, reference, ours):
    wipe_(ours)
    load_checkpoint(ours, hf_files[variant], map_location='cpu')
    assert_matches(ours, reference)


def test_published_extras_load(hf_model, reference, ours):
    wipe_(ours)
    ours.load_state_dict(published_state_dict(hf_model))
    assert_matches(ours, reference)
    assert ours.text_encoder.pooler is None
