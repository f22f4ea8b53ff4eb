"""Retrieval queries: encode texts or images with the model and search a
:class:`~mmcnclip.apis.index.RetrievalIndex`."""
import os
from typing import List, Optional, Sequence, Union

import torch
from mmengine.dataset import Compose, pseudo_collate
from mmpretrain.datasets.transforms import PackInputs
from torch import nn

from mmcnclip.models.inference import image_input_size
from mmcnclip.registry import TRANSFORMS
from .index import RetrievalIndex
from .model import inference_mode, normalized


def _chunks(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _ranked(scores: torch.Tensor, ids: List[list]) -> List[list]:
    return [list(zip(row_ids, row.tolist()))
            for row_ids, row in zip(ids, scores)]


def text_to_image(model: nn.Module,
                  index: RetrievalIndex,
                  texts: Union[str, Sequence[str]],
                  k: int = 5,
                  batch_size: int = 256) -> List[List[tuple]]:
    """Rank the index's images for each text.

    Args:
        model (nn.Module): The model that built the index (``encode_text``).
        index (RetrievalIndex): Index with image features.
        texts (str | Sequence[str]): Queries.
        k (int): Results per query. Defaults to 5.
        batch_size (int): Texts encoded at once. Defaults to 256.

    Returns:
        list[list[tuple]]: Per query, ``(image_id, score)`` best first.
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    with inference_mode(model):
        feats = torch.cat([normalized(model.encode_text(list(c))).cpu()
                           for c in _chunks(texts, batch_size)])
    return _ranked(*index.search(feats, k, gallery='image'))


def _image_pipeline(model: nn.Module, pipeline) -> Compose:
    if pipeline is None:
        pipeline = [dict(type='mmcnclip.LoadImagePIL'),
                    dict(type='mmcnclip.PILResize',
                         scale=image_input_size(model))]
    transforms = [TRANSFORMS.build(t) if isinstance(t, dict) else t
                  for t in pipeline]
    if not any(isinstance(t, PackInputs) for t in transforms):
        transforms.append(
            TRANSFORMS.build(dict(type='mmcnclip.PackImageText')))
    return Compose(transforms)


def image_to_text(model: nn.Module,
                  index: RetrievalIndex,
                  images: Union[torch.Tensor, Sequence],
                  k: int = 5,
                  pipeline: Optional[list] = None,
                  batch_size: int = 64) -> List[List[tuple]]:
    """Rank the index's texts for each image.

    Args:
        model (nn.Module): The model that built the index (``encode_image``
            and its data preprocessor).
        index (RetrievalIndex): Index with text features.
        images (Tensor | Sequence): Image files, PIL images or BGR numpy
            arrays (through ``pipeline``), or a tensor (B, 3, H, W) of RGB
            0-255 images at the model's input size.
        k (int): Results per query. Defaults to 5.
        pipeline (list, optional): Transforms turning ``img_path``/``img``
            into the model input, e.g. the config's test pipeline; defaults
            to ``LoadImagePIL`` + ``PILResize`` to the backbone's
            ``img_size``.
        batch_size (int): Images encoded at once. Defaults to 64.

    Returns:
        list[list[tuple]]: Per query, ``(text_id, score)`` best first (see
        :meth:`RetrievalIndex.text_of` for the texts).
    """
    feats = []
    with inference_mode(model):
        if isinstance(images, torch.Tensor):
            for chunk in images.split(batch_size):
                pixels = model.data_preprocessor(dict(inputs=chunk),
                                                 False)['images']
                feats.append(normalized(model.encode_image(pixels)).cpu())
        else:
            compose = _image_pipeline(model, pipeline)
            for chunk in _chunks(list(images), batch_size):
                packed = [compose(dict(img_path=os.fspath(x)) if isinstance(
                    x, (str, os.PathLike)) else dict(img=x)) for x in chunk]
                pixels = model.data_preprocessor(pseudo_collate(packed),
                                                 False)['images']
                feats.append(normalized(model.encode_image(pixels)).cpu())
    if not feats:
        raise ValueError('image_to_text got no images')
    return _ranked(*index.search(torch.cat(feats), k, gallery='text'))
