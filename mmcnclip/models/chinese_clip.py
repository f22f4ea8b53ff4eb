"""The two-tower Chinese CLIP model (image-text retrieval, finetuning)."""
import math
from typing import List, Optional

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import nn

from mmcnclip.checkpoint import LoadsAnyCheckpointLayout
from mmcnclip.registry import MODELS
from .data_preprocessor import default_data_preprocessor
from .inference import PreparesForInference
from .inferencer_hooks import InferencerHooks
from .text_tower import TextTower

#: the official clamp of the learnable temperature: ln(100)
MAX_LOGIT_SCALE = math.log(100)


@MODELS.register_module()
class ChineseCLIP(PreparesForInference, LoadsAnyCheckpointLayout,
                  InferencerHooks, TextTower, BaseModel):
    """Chinese CLIP: image tower + projection, text tower + projection.

    Offers the API of ``cn_clip``/open_clip models: :meth:`tokenize`,
    :meth:`encode_image`, :meth:`encode_text` (projected, unnormalised
    features) and :attr:`logit_scale`. Loads the official ``.pt``, Hugging
    Face and mmpretrain checkpoints directly (see
    :mod:`mmcnclip.checkpoint`), and works with mmpretrain's retrieval
    inferencers and ``FeatureExtractor`` (see
    :mod:`mmcnclip.models.inferencer_hooks`).

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
        loss (dict): Contrastive loss for ``'loss'`` mode. Defaults to
            ``mmcnclip.CLIPContrastiveLoss`` (negatives gathered across
            ranks with gradients).
        freeze_vision (bool): Freeze the image tower and its projection (no
            gradients, BatchNorm statistics and dropout kept in eval mode),
            like the official ``--freeze-vision``. Defaults to False.
        freeze_text (bool): Freeze the text tower and its projection
            likewise. Defaults to False.
        with_cp (bool, optional): When given, set gradient checkpointing of
            both towers (towers without ``with_cp`` are left alone with a
            warning). Defaults to None (keep the tower configs).
        data_preprocessor (dict, optional): Defaults to
            ``mmcnclip.ImageTextDataPreprocessor`` with CLIP mean/std.
        inference_precision (str, optional): Precision the model is
            prepared in on its first ``test_step`` (``'fp32'``, ``'bf16'``,
            ``'fp16'``, ``'int8'``), see
            :class:`~mmcnclip.models.inference.PreparesForInference`; None
            runs the unprepared, bitwise-official model. Defaults to
            ``'fp32'``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 text_proj: dict,
                 neck: Optional[dict] = None,
                 context_length: int = 52,
                 vocab_file: Optional[str] = None,
                 loss: dict = dict(type='mmcnclip.CLIPContrastiveLoss'),
                 freeze_vision: bool = False,
                 freeze_text: bool = False,
                 with_cp: Optional[bool] = None,
                 data_preprocessor: Optional[dict] = None,
                 inference_precision: Optional[str] = 'fp32',
                 init_cfg: Optional[dict] = None):
        super().__init__(
            data_preprocessor=MODELS.build(
                default_data_preprocessor(
                    data_preprocessor, 'mmcnclip.ImageTextDataPreprocessor')),
            init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck else None
        self.init_text_tower(text_encoder, text_proj, context_length,
                             vocab_file, freeze_text)
        self.loss_module = MODELS.build(loss)
        self.freeze_vision = freeze_vision
        self.set_inference_precision(inference_precision)
        if with_cp is not None:
            for tower in (self.backbone, self.text_encoder):
                if hasattr(tower, 'with_cp'):
                    tower.with_cp = with_cp
                else:
                    print_log(f'{type(tower).__name__} has no gradient '
                              'checkpointing; with_cp ignored for it',
                              logger='current', level=30)
        self.freeze_modules()

    def frozen_modules(self) -> List[nn.Module]:
        """The frozen text side and, with ``freeze_vision``, image tower."""
        vision = [m for m in (self.backbone, self.neck) if m is not None]
        return super().frozen_modules() + (vision if self.freeze_vision
                                           else [])

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Projected, unnormalised image features of shape (B, embed_dim)."""
        feats = self.backbone(images)
        if self.neck is not None:
            feats = self.neck(feats)
        return feats[-1]

    def forward(self,
                images: Optional[torch.Tensor] = None,
                texts=None,
                mode: str = 'tensor',
                data_samples: Optional[list] = None):
        """Features (``'tensor'``), the contrastive loss (``'loss'``) or
        data samples with features (``'predict'``).

        Args:
            images (Tensor, optional): Preprocessed images (B, 3, H, W).
            texts (Tensor | list[str], optional): Token ids or texts; in
                ``'loss'``/``'predict'`` mode taken from the ``text`` field
                of ``data_samples`` when None.
            mode (str): ``'tensor'`` returns L2-normalised image and/or text
                features; ``'loss'`` a dict with ``loss`` (symmetric
                InfoNCE over pairs ``(images[i], text of sample i)``);
                ``'predict'`` the data samples with ``image_feat`` and/or
                ``text_feat`` set. Defaults to ``'tensor'``.
            data_samples (list[DataSample], optional): Samples from the
                data pipeline; in ``'tensor'`` mode (a preprocessed batch,
                as mmpretrain's retrieval inferencers run it) the result is
                then the dict of :meth:`extract_feat`. Defaults to None.
        """
        if mode == 'loss':
            return self.loss(images, data_samples, texts)
        if mode == 'predict':
            return self.predict(images, data_samples, texts)
        if mode != 'tensor':
            raise RuntimeError(f'Invalid mode "{mode}" for ChineseCLIP')
        if data_samples is not None:
            return self.extract_feat(images=images, data_samples=data_samples)
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

    @staticmethod
    def _texts_of(data_samples: Optional[list]) -> List[str]:
        texts = []
        for i, sample in enumerate(data_samples or []):
            if 'text' in sample:
                text = sample.text
                if not isinstance(text, str):
                    raise TypeError(f'Data sample {i}: "text" must be one '
                                    f'string, got {type(text).__name__}')
                texts.append(text)
        return texts

    def loss(self, images: torch.Tensor, data_samples: Optional[list],
             texts=None) -> dict:
        """Symmetric InfoNCE; ``logit_scale`` is clamped to [0, ln(100)]
        first, as the official trainer does after every step."""
        if texts is None:
            texts = self._texts_of(data_samples)
        if images is None or len(texts) != images.shape[0]:
            raise ValueError('Loss mode needs one text per image, got '
                             f'{0 if images is None else images.shape[0]} '
                             f'images and {len(texts)} texts')
        with torch.no_grad():
            self.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        if self.freeze_vision:
            with torch.no_grad():
                img = self.encode_image(images)
        else:
            img = self.encode_image(images)
        img = nn.functional.normalize(img, dim=-1)
        txt = nn.functional.normalize(self.encode_text(texts), dim=-1)
        scale = self.logit_scale.exp()
        loss = self.loss_module(img.float(), txt.float(), scale.float())
        return dict(loss=loss, logit_scale=scale.detach())

    def predict(self,
                images: Optional[torch.Tensor] = None,
                data_samples: Optional[list] = None,
                texts=None) -> list:
        """Attach normalised ``image_feat``/``text_feat`` to the samples.

        Images go to the samples whose metainfo ``has_image`` is True (all
        samples when it is absent); texts to the samples with a ``text``.
        """
        from mmpretrain.structures import DataSample
        if data_samples is None:
            n = images.shape[0] if images is not None else len(texts or [])
            data_samples = [DataSample() for _ in range(n)]
        if images is not None:
            owners = [s for s in data_samples if s.get('has_image', True)]
            if len(owners) != images.shape[0]:
                raise ValueError(f'{images.shape[0]} images for '
                                 f'{len(owners)} image samples')
            feats = nn.functional.normalize(self.encode_image(images), dim=-1)
            for sample, feat in zip(owners, feats):
                sample.set_field(feat, 'image_feat')
        owners = [s for s in data_samples if 'text' in s]
        if texts is None:
            texts = self._texts_of(data_samples)
        elif len(owners) != len(texts):
            owners = data_samples[:len(texts)]
        if len(texts):
            feats = nn.functional.normalize(self.encode_text(texts), dim=-1)
            for sample, feat in zip(owners, feats):
                sample.set_field(feat, 'text_feat')
        self.score_prototype(data_samples)
        return data_samples
