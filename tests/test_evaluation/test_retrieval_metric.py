"""ImageTextRecall / chunked_topk against hand-computed rankings."""
import pytest
import torch

from mmcnclip.apis import RetrievalIndex
from mmcnclip.evaluation.metrics import (ImageTextRecall, chunked_topk,
                                         exact_scores, recall_at_k,
                                         stable_topk)


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


def _official_ranking(scores, k):
    """``make_topk_predictions.py``: Python's stable ``sorted`` by score."""
    return [[j for j, _ in sorted(enumerate(row), key=lambda x: x[1],
                                  reverse=True)[:k]] for row in scores.tolist()]


def test_ties_keep_gallery_order_whatever_the_chunks():
    gen = torch.Generator().manual_seed(0)
    # few distinct values: many ties, also across chunk borders
    q = torch.randint(0, 3, (23, 4), generator=gen).float()
    g = torch.randint(0, 3, (97, 4), generator=gen).float()
    g[50:60] = g[3]  # duplicate gallery items
    expected = _official_ranking(q @ g.t(), 10)
    assert stable_topk(q @ g.t(), 10)[1].tolist() == expected
    for qc, gc in ((1000, 100000), (5, 7), (1, 1), (4, 10)):
        assert chunked_topk(q, g, 10, qc, gc)[1].tolist() == expected
    # the memory-bounded float16 index search, in both galleries
    ids = [f'id{j}' for j in range(97)]
    for name in ('image', 'text'):
        index = RetrievalIndex(**{f'{name}_feats': g.half(),
                                  f'{name}_ids': ids})
        _, found = index.search(q, 10, gallery=name, query_chunk=6,
                                gallery_chunk=9)
        assert found == [[ids[j] for j in row] for row in expected]


def test_identical_gallery_rows_score_exactly_alike():
    gen = torch.Generator().manual_seed(0)
    q, g = torch.randn(64, 512, generator=gen), torch.randn(37, 512,
                                                           generator=gen)
    g = torch.nn.functional.normalize(g, dim=1)
    g[[10, 35]] = g[3].clone()  # inside and in the tail of the kernel
    s = exact_scores(q, g, block=16)
    assert torch.equal(s[:, 3], s[:, 10]) and torch.equal(s[:, 3], s[:, 35])
    torch.testing.assert_close(s, q @ g.t())
    ranked = chunked_topk(q, g, 37)[1].tolist()
    for row in ranked:
        assert row.index(3) < row.index(10) < row.index(35)


def test_metric_duplicate_images_rank_in_gallery_order():
    # images 'x' and 'y' are identical; the text describes 'y' only. The
    # official stable sort ranks 'x' (earlier) first: R@1 misses, R@2 hits.
    images = {'x': e(1, 0), 'y': e(1, 0), 'z': e(0, 1)}
    texts = {0: (e(1, 0.1), ['y']), 1: (e(1, 0.1), ['z'])}
    res = _run(ImageTextRecall(topk=(1, 2)), images, texts)
    assert res['retrieval/t2i_R@1'] == 0.0
    assert res['retrieval/t2i_R@2'] == 50.0
    # i2t: texts 0 and 1 are identical; query 'y' ranks text 0 first (hit),
    # query 'z' too (miss at 1, hit at 2)
    assert res['retrieval/i2t_R@1'] == 50.0
    assert res['retrieval/i2t_R@2'] == 100.0


def test_recalls_are_float64_like_the_official():
    ranked = torch.tensor([[0]] * 4 + [[1]] * 15)
    rec = recall_at_k(ranked, [[0]] * 19, ks=(1, ))
    assert rec[1] == 4 * 1.0 / 19 * 100 == 21.052631578947366


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
