"""mmpretrain's own retrieval inferencers and FeatureExtractor on the tiny
``mmcnclip.ChineseCLIP`` shapes config (random weights): the same top-k,
scores and features as :mod:`mmcnclip.apis` on the same gallery."""
import os
import os.path as osp
import re

import pytest
import torch

from helpers.gallery import TINY_CFG, write_photos
from helpers.processes import REPO

from mmcnclip.apis import (MultiModalEmbedding, RetrievalIndex,
                           image_to_text, text_to_image)

TEXTS = ['红色的圆形', '蓝色的正方形', '绿色的三角形', '黄色的星星']
K = 3


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp('photos'), 6)


@pytest.fixture(scope='module')
def apis(tiny_ckpt, photos):
    """mmcnclip.apis on the gallery: the model and an index of both sides."""
    embed = MultiModalEmbedding(TINY_CFG, tiny_ckpt)
    index = RetrievalIndex(image_feats=embed.images(photos),
                           image_ids=range(len(photos)),
                           text_feats=embed.texts(TEXTS),
                           text_ids=range(len(TEXTS)), texts=TEXTS)
    return embed, index


def _ranked(results):
    return [[(int(m['sample_idx']), float(m['match_score'])) for m in row]
            for row in results]


def _assert_same(ours, expected):
    for row, want in zip(ours, expected):
        assert [i for i, _ in row] == [i for i, _ in want]
        assert [s for _, s in row] == pytest.approx([s for _, s in want],
                                                    abs=1e-5)


def test_text_to_image_inferencer(tiny_ckpt, photos, apis):
    from mmpretrain import TextToImageRetrievalInferencer
    inferencer = TextToImageRetrievalInferencer(
        TINY_CFG, prototype=photos, pretrained=tiny_ckpt)
    ours = _ranked(inferencer(TEXTS, topk=K))
    _assert_same(ours, text_to_image(apis[0].model, apis[1], TEXTS, k=K))


def test_image_to_text_inferencer(tiny_ckpt, photos, apis):
    from mmpretrain import ImageToTextRetrievalInferencer
    inferencer = ImageToTextRetrievalInferencer(
        TINY_CFG, prototype=TEXTS, pretrained=tiny_ckpt)
    results = inferencer(photos[:2], topk=K)
    _assert_same(_ranked(results),
                 image_to_text(apis[0].model, apis[1], photos[:2], k=K))
    assert [m['text'] for m in results[0]] == [
        TEXTS[i] for i, _ in _ranked(results)[0]]


def test_image_retrieval_inferencer(tiny_ckpt, photos, apis, tmp_path):
    from mmpretrain import ImageRetrievalInferencer
    cache = str(tmp_path / 'prototype.pth')
    inferencer = ImageRetrievalInferencer(
        TINY_CFG, prototype=photos, prototype_cache=cache,
        pretrained=tiny_ckpt)
    query = apis[0].images(photos[:2])
    gallery = apis[1].image_feats
    scores, ids = (query @ gallery.t()).topk(K)
    expected = [list(zip(i.tolist(), s.tolist())) for i, s in zip(ids, scores)]
    _assert_same(_ranked(inferencer(photos[:2], topk=K)), expected)
    # a second inferencer reads the saved gallery features
    cached = ImageRetrievalInferencer(
        TINY_CFG, prototype=photos, prototype_cache=cache,
        pretrained=tiny_ckpt)
    _assert_same(_ranked(cached(photos[:2], topk=K)), expected)


def test_feature_extractor(tiny_ckpt, photos, apis):
    from mmpretrain import FeatureExtractor
    feats = FeatureExtractor(TINY_CFG, pretrained=tiny_ckpt)(photos[:3])
    torch.testing.assert_close(torch.stack([f[0] for f in feats]),
                               apis[0].images(photos[:3]), atol=1e-5,
                               rtol=0)


def readme_snippet() -> str:
    with open(osp.join(REPO, 'README.md'), encoding='utf-8') as f:
        section = f.read().split('## OpenMMLab entry points', 1)[1]
    section = section.split('\n## ', 1)[0]
    return re.search(r'```python\n(.*?)```', section, re.S).group(1)


def test_readme_inferencer_snippet(tiny_ckpt, tmp_path, monkeypatch):
    os.symlink(osp.join(REPO, 'configs'), tmp_path / 'configs')
    work = tmp_path / 'work_dirs' / 'cn-clip_tiny_shapes'
    work.mkdir(parents=True)
    os.symlink(tiny_ckpt, work / 'iter_400.pth')
    photos = write_photos(tmp_path / 'photos', 4)
    os.rename(photos[0], tmp_path / 'photos' / 'cat.png')
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(readme_snippet(), scope)
    assert len(scope['hits']) == 3 and len(scope['similar']) == 3
    assert scope['similar'][0]['sample']['img_path'].endswith('cat.png')
    assert scope['captions'][0]['text'] in scope['texts']
    assert scope['embedding'].shape == (64, )
    assert (tmp_path / 'photos.pth').is_file()
