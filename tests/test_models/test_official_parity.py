"""Features of mmcnclip equal those of the official cn_clip code."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import load_checkpoint

from conftest import TEXTS, build_official, images, model_config, \
    save_official
from mmcnclip.registry import MODELS

IMAGE_TOL, LOGIT_TOL = 2e-6, 1e-4


def compare_with_official(name, ckpt_path, half=False):
    from cn_clip.clip import tokenize
    official = build_official(name)
    if half:  # fp16-exact weights so that both sides hold the same values
        with torch.no_grad():
            for t in official.state_dict().values():
                if t.is_floating_point():
                    t.copy_(t.half().float())
    save_official(official, ckpt_path, half=half)
    ours = MODELS.build(model_config(name)).eval()
    load_checkpoint(ours, ckpt_path, map_location='cpu', strict=True)

    size = official.visual.input_resolution
    pixels = images(size)
    ids = tokenize(TEXTS)
    assert torch.equal(ours.tokenize(TEXTS), ids)
    with torch.no_grad():
        ref_img = F.normalize(official.encode_image(pixels), dim=-1)
        ref_txt = F.normalize(official.encode_text(ids), dim=-1)
        img, txt = ours(pixels, ids)
        txt_raw = F.normalize(ours.encode_text(TEXTS), dim=-1)
        scale = official.logit_scale.exp()
        assert torch.equal(ours.logit_scale, official.logit_scale)
    assert (img - ref_img).abs().max() < IMAGE_TOL
    assert (txt - ref_txt).abs().max() < IMAGE_TOL
    assert (txt_raw - ref_txt).abs().max() < IMAGE_TOL
    logits = scale * img @ txt.t()
    ref_logits = scale * ref_img @ ref_txt.t()
    assert (logits - ref_logits).abs().max() < LOGIT_TOL
    # Guard against a vacuous comparison: features must differ per input.
    assert (ref_img[0] - ref_img[1]).abs().max() > 1e-3


@pytest.mark.parametrize('name', ['RN50', 'ViT-B-16'])
def test_official_parity(name, tmp_ckpt):
    compare_with_official(name, tmp_ckpt)


def test_official_fp16_checkpoint(tmp_ckpt):
    compare_with_official('RN50', tmp_ckpt, half=True)


@pytest.mark.slow
@pytest.mark.parametrize('name', ['ViT-L-14', 'ViT-L-14-336', 'ViT-H-14'])
def test_official_parity_large(name, tmp_ckpt):
    compare_with_official(name, tmp_ckpt)
