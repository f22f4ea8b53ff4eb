"""ImageTextRecall / chunked_topk against hand-computed rankings."""
import pytest
import torch

from mmcnclip.evaluation.metrics import (ImageTextRecall, chunked_topk,
                                         recall_at_k)


def e(*vals):
    return torch.nn.functional.normalize(torch.tensor(vals, dtype=torch.float),
                                         dim=0)


def test_chunked_topk_matches_full_search():
    gen = torch.Generator().manual_seed(0)
    q, g = torch.randn(37, 8, generator=gen), torch.randn(301, 8, generator=gen)
    ref_s, ref_i = (q @ g.t()).topk(10, dim=1)
    s, i = chunked_topk(q, g, 10, query_chunk=5, gallery_chunk=7)
    assert torch.equal(i, ref_i)
    assert torch.allclose(s, ref_s)
    # k larger than the gallery is capped
    assert chunked_topk(q, g[:3], 10)[1].shape == (37, 3)
    with pytest.raises(ValueError, match='shape|got'):
        chunked_topk(q, torch.randn(5, 4), 3)


def test_recall_at_k_any_positive_counts():
    ranked = torch.tensor([[2, 0, 1], [1, 2, 0], [0, 1, 2]])
    # query0: positives {0,1} -> best rank 1; query1: {0} -> rank 2;
    # query2: {0} -> rank 0
    rec = recall_at_k(ranked, [[0, 1], [0], [0]], ks=(1, 2, 3, 10))
    assert rec[1] == pytest.approx(100 / 3)
    assert rec[2] == pytest.approx(200 / 3)
    assert rec[3] == pytest.approx(100.0)
    assert rec[10] == pytest.approx(100.0)
    # a miss in a short list is not a hit at larger k
    assert recall_at_k(torch.tensor([[1]]), [[0]], ks=(1, 10))[10] == 0


def _run(metric, images, texts):
    samples = [dict(image_id=i, image_feat=f) for i, f in images.items()]
    samples += [dict(text_id=t, text_feat=f, gt_image_ids=gt)
                for t, (f, gt) in texts.items()]
    metric.process(None, samples[::2])
    metric.process(None, samples[1::2])
    return metric.evaluate(len(samples))


def test_metric_hand_computed():
    # three images along the axes of R^3
    images = {'a': e(1, 0, 0), 'b': e(0, 1, 0), 'c': e(0, 0, 1)}
    texts = {
        # t2i ranking: a, b, c -> hit at rank 1
        10: (e(3, 2, 1), ['a']),
        # ranking c, b, a; positive b -> rank 2
        11: (e(0, 2, 3), ['b']),
        # ranking b, a, c; positives {a, c}: best rank 2 (a)
        12: (e(2, 3, 0), ['a', 'c']),
    }
    res = _run(ImageTextRecall(topk=(1, 2, 3)), images, texts)
    assert res['retrieval/t2i_R@1'] == pytest.approx(100 / 3)
    assert res['retrieval/t2i_R@2'] == pytest.approx(100.0)
    # i2t: queries are the images described by a text: a, b, c.
    # a: texts scored 10:.80 12:.55 11:0 ; positives {10, 12} -> rank 1
    # b: 12:.83 11:.55 10:.53 ; positive {11} -> rank 2
    # c: 11:.83 10:.27 12:0 ; positive {12} -> rank 3
    assert res['retrieval/i2t_R@1'] == pytest.approx(100 / 3)
    assert res['retrieval/i2t_R@2'] == pytest.approx(200 / 3)
    assert res['retrieval/i2t_R@3'] == pytest.approx(100.0)
    six = [res[f'retrieval/{d}_R@{k}'] for d in ('t2i', 'i2t')
           for k in (1, 2, 3)]
    assert res['retrieval/MR'] == pytest.approx(sum(six) / 6)


def test_metric_images_without_texts_are_gallery_only():
    images = {1: e(1, 0), 2: e(0, 1), 3: e(1, 1)}
    texts = {0: (e(1, 0.1), [1])}
    res = _run(ImageTextRecall(topk=(1, 2)), images, texts)
    assert res['retrieval/t2i_R@1'] == 100.0
    assert res['retrieval/i2t_R@1'] == 100.0  # only image 1 is a query


def test_metric_errors():
    with pytest.raises(ValueError, match='missing from the image gallery'):
        _run(ImageTextRecall(), {1: e(1, 0)}, {0: (e(1, 0), [7])})
    with pytest.raises(KeyError, match='image_feat'):
        ImageTextRecall().process(None, [dict(foo=1)])
