"""The two-tower Chinese CLIP model (image-text retrieval, finetuning)."""
import math
from typing import Optional

import torch
from mmengine.model import BaseModel
from torch import nn

from mmcnclip.checkpoint import LoadsAnyCheckpointLayout
from mmcnclip.registry import MODELS
from mmcnclip.text import ChineseTokenizer
from .text_encoding import CLIP_MEAN, CLIP_STD, EncodesText


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
class ChineseCLIP(LoadsAnyCheckpointLayout, EncodesText, BaseModel):
    """Chinese CLIP: image tower + projection, text tower + projection.

    Offers the API of ``cn_clip``/open_clip models: :meth:`tokenize`,
    :meth:`encode_image`, :meth:`encode_text` (projected, unnormalised
    features) and :attr:`logit_scale`. Loads the official ``.pt``, Hugging
    Face and mmpretrain checkpoints directly (see
    :mod:`mmcnclip.checkpoint`).

    Args:
        backbone (dict): Image tower, e.g. ``mmcnclip.CLIPVisionTransformer``
            or ``mmcnclip.ModifiedResNet``.
        text_encoder (dict): Text tower (``mmcnclip.BertTextEncoder``).
        text_proj (dict): Text projection (``mmcnclip.CLIPProjection``).
        neck (dict, optional): Image projection; None for ModifiedResNet,
            whose attention pool projects already. Defaults to None.
        context_length (int): Token length of :meth:`tokenize`. Defaults to
            52.
        vocab_file (str, optional): Vocabulary; the packaged Chinese BERT
            vocab when None. Defaults to None.
        data_preprocessor (dict, optional): Defaults to
            ``MultiModalDataPreprocessor`` with CLIP mean/std.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 text_proj: dict,
                 neck: Optional[dict] = None,
                 context_length: int = 52,
                 vocab_file: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            data_preprocessor=MODELS.build(
                default_data_preprocessor(data_preprocessor,
                                          'MultiModalDataPreprocessor')),
            init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck else None
        self.text_encoder = MODELS.build(text_encoder)
        self.text_proj = MODELS.build(text_proj)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.tokenizer = ChineseTokenizer(vocab_file, context_length)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Projected, unnormalised image features of shape (B, embed_dim)."""
        feats = self.backbone(images)
        if self.neck is not None:
            feats = self.neck(feats)
        return feats[-1]

    def forward(self,
                images: Optional[torch.Tensor] = None,
                texts: Optional[torch.Tensor] = None,
                mode: str = 'tensor'):
        """Return L2-normalised image and/or text features (``'tensor'``).

        Args:
            images (Tensor, optional): Preprocessed images (B, 3, H, W).
            texts (Tensor | list[str], optional): Token ids or texts.
            mode (str): Only ``'tensor'`` here. Defaults to ``'tensor'``.
        """
        if mode != 'tensor':
            raise RuntimeError(f'Invalid mode "{mode}" for ChineseCLIP')
        if images is None and texts is None:
            raise ValueError('Give images, texts or both')
        outs = []
        if images is not None:
            outs.append(nn.functional.normalize(self.encode_image(images),
                                                dim=-1))
        if texts is not None:
            outs.append(nn.functional.normalize(self.encode_text(texts),
                                                dim=-1))
        return tuple(outs) if len(outs) > 1 else outs[0]
