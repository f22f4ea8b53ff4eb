"""CLIP normalisation and the data preprocessor of image-text batches."""
from typing import Optional

import torch
from mmpretrain.models.utils import MultiModalDataPreprocessor

from mmcnclip.registry import MODELS

#: CLIP's RGB mean and std on [0, 1] images (the ``cn_clip`` transforms).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def default_data_preprocessor(data_preprocessor: Optional[dict],
                              default_type: str) -> dict:
    """CLIP mean/std on RGB input (our pipelines already yield RGB)."""
    cfg = dict(
        type=default_type,
        mean=[255 * m for m in CLIP_MEAN],
        std=[255 * s for s in CLIP_STD],
        to_rgb=False)
    cfg.update(data_preprocessor or {})
    return cfg


@MODELS.register_module()
class ImageTextDataPreprocessor(MultiModalDataPreprocessor):
    """``MultiModalDataPreprocessor`` that also takes per-sample image lists
    in which text-only samples have ``None`` (retrieval galleries).

    With a list input (``pseudo_collate``) the present images are stacked
    along the batch dimension and every data sample gets the metainfo
    ``has_image``. A stacked tensor (``default_collate``) is handled as in
    the parent. Args are those of ``MultiModalDataPreprocessor``.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data.get('inputs')
        if isinstance(inputs, (list, tuple)):
            samples = data.get('data_samples')
            present = [x is not None for x in inputs]
            if samples is None or len(samples) != len(inputs):
                raise ValueError('A list of images needs one data sample per '
                                 'image')
            for sample, has in zip(samples, present):
                sample.set_metainfo(dict(has_image=has))
            imgs = [x for x in inputs if x is not None]
            data = dict(data, inputs=torch.stack(imgs) if imgs else None)
        return super().forward(data, training)
