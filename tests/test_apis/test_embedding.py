"""MultiModalEmbedding (ModelScope-style one-liner) against the official
cn_clip encoders on the same random RN50 checkpoint."""
import pytest
import torch
from PIL import Image

from conftest import smooth_image

from mmcnclip.apis import MultiModalEmbedding

TEXTS = ['一只猫', '一条狗在草地上奔跑', '红色']


@pytest.fixture(scope='module')
def embed(rn50_ckpt):
    return MultiModalEmbedding('cn-clip_resnet50_zeroshot-cls_cifar100',
                               rn50_ckpt[0], batch_size=2)


def test_embeddings_match_official(embed, rn50_ckpt, tmp_path):
    from cn_clip.clip import image_transform, tokenize
    official = rn50_ckpt[1]
    paths = [smooth_image(tmp_path / f'{i}.jpg', i) for i in range(3)]
    out = embed({'img': [paths[0], Image.open(paths[1]), paths[2]],
                 'text': TEXTS})
    with torch.no_grad():
        pixels = torch.stack([image_transform(224)(Image.open(p))
                              for p in paths])
        ref_img = official(pixels, None)
        ref_txt = official(None, tokenize(TEXTS))
    ref_img = ref_img / ref_img.norm(dim=-1, keepdim=True)
    ref_txt = ref_txt / ref_txt.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(out['img_embedding'], ref_img, atol=1e-5,
                               rtol=0)
    torch.testing.assert_close(out['text_embedding'], ref_txt, atol=1e-5,
                               rtol=0)
    assert out['logit_scale'] == pytest.approx(100, rel=1e-5)
    assert out['temperature'] == pytest.approx(0.01, rel=1e-5)
    # a progress bar when there is more than one batch (batch_size=2)
    assert embed._progress(3, None) is not None
    assert embed._progress(2, None) is None


def test_bare_inputs(embed, tmp_path):
    text = embed('一只猫')['text_embedding']
    assert text.shape == (1, 1024)
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(1))
    image = Image.open(smooth_image(tmp_path / 'a.jpg', 0))
    assert embed(image)['img_embedding'].shape == (1, 1024)
    assert embed.images([image, image]).shape == (2, 1024)
    with pytest.raises(KeyError, match='Unknown input keys'):
        embed({'image': image})
