"""The methods mmpretrain's inferencers call on a two-tower model.

mmpretrain's ``TextToImageRetrievalInferencer`` and
``ImageToTextRetrievalInferencer`` follow its BLIP retriever
(``extract_feat(images=..., data_samples=...)`` returning a dict of
features, ``predict_all``), ``ImageRetrievalInferencer`` its
``ImageToImageRetriever`` (``prepare_prototype``/``dump_prototype``, then
``predict`` setting ``pred_score``) and ``FeatureExtractor`` its
``ImageClassifier`` (``extract_feat(inputs)`` returning a tuple). Scores are
the cosine similarities of L2-normalised features, as in
:mod:`mmcnclip.apis`.
"""
from typing import List, Optional

import torch
from torch import nn


class InferencerHooks:
    """Mixin of a model with ``encode_image``, ``encode_text`` and
    ``_texts_of`` (:class:`mmcnclip.ChineseCLIP`) for mmpretrain's
    retrieval inferencers and ``FeatureExtractor``."""

    def extract_feat(self,
                     inputs: Optional[torch.Tensor] = None,
                     images: Optional[torch.Tensor] = None,
                     data_samples: Optional[list] = None):
        """Normalised features, in either of mmpretrain's conventions.

        Args:
            inputs (Tensor, optional): Preprocessed images, given
                positionally as ``FeatureExtractor`` does: returns the tuple
                ``(image_feat,)`` of shape (B, embed_dim).
            images (Tensor, optional): Preprocessed images (keyword, as the
                retrieval inferencers pass them).
            data_samples (list, optional): Samples whose ``text`` is encoded.

        Returns:
            tuple | dict: ``(image_feat,)`` for ``inputs``; else a dict with
            ``image_feat`` and/or ``text_feat``.
        """
        if inputs is not None:
            return (nn.functional.normalize(self.encode_image(inputs),
                                            dim=-1), )
        feats = {}
        if images is not None:
            feats['image_feat'] = nn.functional.normalize(
                self.encode_image(images), dim=-1)
        texts = self._texts_of(data_samples)
        if texts:
            feats['text_feat'] = nn.functional.normalize(
                self.encode_text(texts), dim=-1)
        return feats

    def predict_all(self,
                    feats: dict,
                    data_samples: Optional[list] = None,
                    cal_i2t: bool = True,
                    cal_t2i: bool = True) -> tuple:
        """Score all images against all texts (BLIP's ``predict_all``).

        Args:
            feats (dict): ``image_feat`` (I, D) and ``text_feat`` (T, D).
            data_samples (list, optional): Samples of the queries.
            cal_i2t (bool): Rank the texts for each image. Defaults to True.
            cal_t2i (bool): Rank the images for each text. Defaults to True.

        Returns:
            tuple[list[DataSample]]: The image queries' samples (if
            ``cal_i2t``), then the text queries' (if ``cal_t2i``), each with
            ``pred_score`` over the gallery.
        """
        scores = feats['image_feat'] @ feats['text_feat'].t()
        results = []
        if cal_i2t:
            results.append(_with_scores(scores, data_samples))
        if cal_t2i:
            results.append(_with_scores(scores.t(), data_samples))
        return tuple(results)

    @torch.no_grad()
    def prepare_prototype(self) -> None:
        """Encode the image gallery ``self.prototype`` that mmpretrain's
        ``ImageRetrievalInferencer`` sets: a dataloader of image batches, or
        the path of features saved by :meth:`dump_prototype`."""
        if isinstance(self.prototype, str):
            vecs = torch.load(self.prototype, map_location='cpu',
                              weights_only=True)
        else:
            vecs = torch.cat([
                self.extract_feat(**self.data_preprocessor(batch, False))
                ['image_feat'] for batch in self.prototype
            ])
        device = next(self.parameters()).device
        self.register_buffer('prototype_vecs', vecs.to(device),
                             persistent=False)

    def dump_prototype(self, path: str) -> None:
        """Save the features of :meth:`prepare_prototype` to ``path``."""
        torch.save(self.prototype_vecs.cpu(), path)

    def score_prototype(self, data_samples: List) -> None:
        """Set each sample's ``pred_score`` against the prepared image
        gallery when there is one (``ImageRetrievalInferencer``)."""
        if getattr(self, 'prototype_vecs', None) is None:
            return
        gallery = self.prototype_vecs.t()
        for sample in data_samples:
            if 'image_feat' in sample:
                sample.set_pred_score(sample.image_feat @ gallery)


def _with_scores(scores: torch.Tensor, data_samples: Optional[list]) -> list:
    from mmpretrain.structures import DataSample
    if data_samples is None or len(data_samples) != scores.size(0):
        data_samples = [DataSample() for _ in range(scores.size(0))]
    for sample, row in zip(data_samples, scores):
        sample.set_pred_score(row)
    return data_samples
