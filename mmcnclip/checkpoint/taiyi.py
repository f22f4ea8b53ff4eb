"""Merge an image-tower and a text-tower checkpoint into one mmcnclip state
dict (Taiyi-CLIP and other two-source CLIPs)."""
import math
from typing import Optional

import torch

from .convert import (CheckpointMismatchError, TowerNotFoundError,
                      extract_tower, unwrap_checkpoint)

#: Taiyi-CLIP's evaluation scale (CLIP's trained maximum, exp(4.6052)).
DEFAULT_LOGIT_SCALE = math.log(100.)


def _load(path: str) -> dict:
    from mmengine.runner import CheckpointLoader
    return unwrap_checkpoint(CheckpointLoader.load_checkpoint(path, 'cpu'))


def _optional_tower(sd: dict, prefix: str, fmt: Optional[str]) -> dict:
    try:
        return extract_tower(sd, prefix, fmt)[0]
    except TowerNotFoundError:
        return {}


def merge_two_tower_checkpoints(image: str,
                                text: str,
                                image_format: Optional[str] = None,
                                text_format: Optional[str] = None,
                                logit_scale: Optional[float] = None) -> dict:
    """Build a full mmcnclip-layout state dict from two checkpoints.

    Args:
        image (str): Image-tower checkpoint: file or HF folder in any layout
            (``open_clip``/OpenAI ``visual.*`` or bare, ``huggingface``
            ``CLIPModel``, official Chinese CLIP...).
        text (str): Text-tower checkpoint (``hf_bert``: HF ``BertModel`` or
            ``BertForSequenceClassification``, or any Chinese CLIP layout).
        image_format (str, optional): Layout of ``image``; detected when
            None. Defaults to None.
        text_format (str, optional): Layout of ``text``; detected when None.
            Defaults to None.
        logit_scale (float, optional): Log logit scale used when ``image``
            holds none. Defaults to ``log(100)``.

    Returns:
        dict: ``backbone.*``, ``neck.*`` (if the image tower has a
        projection), ``text_encoder.*``, ``text_proj.*`` (if the text tower
        has one) and ``logit_scale``.
    """
    image_sd = _load(image)
    merged = {}
    for prefix in ('backbone.', 'neck.'):
        tower = _optional_tower(image_sd, prefix, image_format)
        merged.update({prefix + k: v for k, v in tower.items()})
    if not any(k.startswith('backbone.') for k in merged):
        raise CheckpointMismatchError(f'{image} holds no image tower')
    text_sd = _load(text)
    for prefix in ('text_encoder.', 'text_proj.'):
        tower = _optional_tower(text_sd, prefix, text_format)
        merged.update({prefix + k: v for k, v in tower.items()})
    if not any(k.startswith('text_encoder.') for k in merged):
        raise CheckpointMismatchError(f'{text} holds no text tower')
    scale = image_sd.get('logit_scale')
    merged['logit_scale'] = (scale.float() if isinstance(scale, torch.Tensor)
                             else torch.tensor(
                                 DEFAULT_LOGIT_SCALE if logit_scale is None
                                 else float(logit_scale)))
    return merged
