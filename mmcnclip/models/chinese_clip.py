"""The two-tower Chinese CLIP model (image-text retrieval, finetuning)."""
import math
from typing import List, Optional

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmpretrain.models.utils import MultiModalDataPreprocessor
from torch import nn

from mmcnclip.checkpoint import LoadsAnyCheckpointLayout
from mmcnclip.registry import MODELS
from mmcnclip.text import ChineseTokenizer

from .inference import PreparesForInference
from .text_encoding import CLIP_MEAN, CLIP_STD, EncodesText

#: the official clamp of the learnable temperature: ln(100)
MAX_LOGIT_SCALE = math.log(100)


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


@MODELS.register_module()
class ChineseCLIP(PreparesForInference, LoadsAnyCheckpointLayout, EncodesText,
                  BaseModel):
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
        loss (dict): Contrastive loss for ``'loss'`` mode. Defaults to
            ``mmcnclip.CLIPContrastiveLoss`` (negatives gathered across
            ranks with gradients).
        freeze_vision (bool): Freeze the image tower and its projection (no
            gradients, BatchNorm statistics and dropout kept in eval mode),
            like the official ``--freeze-vision``. Defaults to False.
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
        self.text_encoder = MODELS.build(text_encoder)
        self.text_proj = MODELS.build(text_proj)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.tokenizer = ChineseTokenizer(vocab_file, context_length)
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
        if freeze_vision:
            for module in self._vision_modules():
                for param in module.parameters():
                    param.requires_grad = False

    def _vision_modules(self) -> List[nn.Module]:
        return [m for m in (self.backbone, self.neck) if m is not None]

    def train(self, mode: bool = True):
        """Set train mode; a frozen image tower stays in eval mode."""
        super().train(mode)
        if self.freeze_vision:
            for module in self._vision_modules():
                module.eval()
        return self

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
                data pipeline. Defaults to None.
        """
        if mode == 'loss':
            return self.loss(images, data_samples, texts)
        if mode == 'predict':
            return self.predict(images, data_samples, texts)
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
        return data_samples
