"""Image-text retrieval recall (Chinese-CLIP's MUGE/Flickr30K-CN/COCO-CN
protocol)."""
from typing import List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmcnclip.registry import METRICS
from .search import chunked_topk, recall_at_k


@METRICS.register_module()
class ImageTextRecall(BaseMetric):
    """Text-to-image and image-to-text Recall@K and their mean (MR).

    Follows ``cn_clip/eval/evaluation.py`` (text to image) and
    ``evaluation_tr.py`` (image to text): every text is a query over all
    gallery images and hits when any of its images is in the top K; every
    image that some text describes is a query over all texts and hits when
    any of those texts is in the top K. ``MR`` is the mean of the six
    recalls. Values are percentages.

    Expects model outputs (``ChineseCLIP`` in ``'predict'`` mode) where an
    image item carries ``image_feat`` and ``image_id`` and a text item
    carries ``text_feat``, ``text_id`` and ``gt_image_ids`` (the image ids
    it describes). Features should be L2-normalised.

    Args:
        topk (Sequence[int]): Cut-offs. Defaults to (1, 5, 10).
        query_chunk (int): Queries scored at once. Defaults to 1024.
        gallery_chunk (int): Gallery items scored at once (bounds memory to
            ``query_chunk * gallery_chunk`` scores). Defaults to 65536.
        collect_device (str): Defaults to 'cpu'.
        prefix (str, optional): Defaults to 'retrieval'.
    """
    default_prefix = 'retrieval'

    def __init__(self,
                 topk: Sequence[int] = (1, 5, 10),
                 query_chunk: int = 1024,
                 gallery_chunk: int = 65536,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(sorted(topk))
        self.query_chunk = query_chunk
        self.gallery_chunk = gallery_chunk

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep the features and ids of every image and text item."""
        for sample in data_samples:
            found = False
            if 'image_feat' in sample:
                self.results.append(
                    ('image', sample['image_id'],
                     sample['image_feat'].detach().float().cpu()))
                found = True
            if 'text_feat' in sample:
                self.results.append(
                    ('text', sample['text_id'],
                     sample['text_feat'].detach().float().cpu(),
                     list(sample['gt_image_ids'])))
                found = True
            if not found:
                raise KeyError('ImageTextRecall needs "image_feat" or '
                               '"text_feat" in every prediction; got keys '
                               f'{sorted(sample)}')

    def compute_metrics(self, results: List) -> dict:
        images, texts = {}, {}
        for item in results:  # dict keeps one copy of padded duplicates
            (images if item[0] == 'image' else texts)[item[1]] = item[2:]
        return self.compute(images, texts)

    def compute(self, images: dict, texts: dict) -> dict:
        """Recalls from ``{image_id: (feat,)}`` and
        ``{text_id: (feat, gt_image_ids)}``."""
        if not images or not texts:
            raise ValueError(f'Retrieval needs images and texts, got '
                             f'{len(images)} images and {len(texts)} texts')
        image_ids = list(images)
        row = {iid: i for i, iid in enumerate(image_ids)}
        text_ids = list(texts)
        img_feats = torch.stack([images[i][0] for i in image_ids])
        txt_feats = torch.stack([texts[t][0] for t in text_ids])

        t2i_pos, i2t_pos = [], {}
        for col, tid in enumerate(text_ids):
            gt = texts[tid][1]
            missing = [i for i in gt if i not in row]
            if missing or not gt:
                raise ValueError(f'Text {tid!r} refers to image ids {missing} '
                                 'missing from the image gallery' if missing
                                 else f'Text {tid!r} has no image ids')
            t2i_pos.append([row[i] for i in gt])
            for i in gt:
                i2t_pos.setdefault(row[i], []).append(col)
        k = self.topk[-1]
        _, t2i = chunked_topk(txt_feats, img_feats, k, self.query_chunk,
                              self.gallery_chunk)
        queries = sorted(i2t_pos)
        _, i2t = chunked_topk(img_feats[queries], txt_feats, k,
                              self.query_chunk, self.gallery_chunk)
        metrics = {}
        for name, ranked, pos in (('t2i', t2i, t2i_pos),
                                  ('i2t', i2t, [i2t_pos[q] for q in queries])):
            for cut, value in recall_at_k(ranked, pos, self.topk).items():
                metrics[f'{name}_R@{cut}'] = value
        metrics['MR'] = sum(metrics.values()) / len(metrics)
        return metrics
