"""Taiyi-CLIP built from its two separately published checkpoints."""
from typing import Optional

from mmcnclip.registry import MODELS
from ..chinese_clip import ChineseCLIP


@MODELS.register_module()
class TaiyiCLIP(ChineseCLIP):
    """A :class:`ChineseCLIP` whose towers come from two checkpoints.

    Taiyi-CLIP publishes only a Chinese text tower (HF ``BertModel`` or
    ``BertForSequenceClassification``); its image tower is an OpenAI or
    open_clip CLIP image encoder. ``pretrained`` names both; they are
    converted, merged and loaded strictly in :meth:`init_weights`. The merged
    model is an ordinary mmcnclip model: its own checkpoints reload through
    ``load_from`` like any other.

    Args:
        pretrained (dict, optional): ``image`` and ``text`` checkpoint paths
            (files or HF folders), optional ``image_format`` (e.g.
            ``'open_clip'``, ``'huggingface'``), ``text_format`` (e.g.
            ``'hf_bert'``) and ``logit_scale`` (used when the image
            checkpoint has none; Taiyi publishes none). Defaults to None.
        context_length (int): Token length (Taiyi pads/truncates to 77).
            Defaults to 77.
        **kwargs: Arguments of :class:`ChineseCLIP`.
    """

    def __init__(self,
                 *args,
                 pretrained: Optional[dict] = None,
                 context_length: int = 77,
                 **kwargs):
        super().__init__(*args, context_length=context_length, **kwargs)
        if pretrained is not None:
            self.set_tower_checkpoints(pretrained)
