"""Zero-shot image classifier built from the Chinese CLIP towers."""
from typing import Optional, Union

import torch
from mmpretrain.models.classifiers import ImageClassifier

from mmcnclip.checkpoint import LoadsAnyCheckpointLayout
from mmcnclip.registry import MODELS
from ..data_preprocessor import default_data_preprocessor
from ..text_tower import TextTower

#: model-level argument -> argument of the head it is passed to.
HEAD_ARGS = {'text_prototype': 'classnames', 'text_prompt': 'templates'}


@MODELS.register_module()
class ZeroShotClassifier(LoadsAnyCheckpointLayout, TextTower,
                         ImageClassifier):
    """Chinese CLIP as an mmpretrain image classifier.

    The image tower (``backbone`` and ``neck``) gives the image embedding;
    the text side (``text_encoder``, ``text_proj``, ``logit_scale``,
    tokenizer) lives on the model exactly as in
    :class:`~mmcnclip.models.ChineseCLIP`, so both share one checkpoint
    layout. The head (:class:`~mmcnclip.models.heads.ZeroShotClsHead`) owns
    no tower: it encodes the class prompts with this model's text side,
    caches the prototypes and scores the image embedding against them.
    Accepts exactly the model dicts of ``configs/_base_/models/cn-clip_*.py``
    and loads the official, Hugging Face, mmpretrain and mmcnclip checkpoints
    (see :class:`~mmcnclip.checkpoint.LoadsAnyCheckpointLayout`).

    Since :func:`mmpretrain.get_model` merges keyword arguments into the
    model config, ``get_model(name, text_prototype=['猫', '狗'])`` works.

    Args:
        backbone (dict): Image tower.
        text_encoder (dict): Text tower.
        text_proj (dict): Text projection.
        neck (dict, optional): Image projection (None for ModifiedResNet).
            Defaults to None.
        text_prototype (str | list[str], optional): Class names: a built-in
            set name (``'cifar100'``, ``'cifar10'``, ``'imagenet'``), a list
            or a label file; passed to the head as ``classnames``. None keeps
            the head's value (``'cifar100'`` by default). Defaults to None.
        text_prompt (str | list[str], optional): Templates: ``'openai'``,
            ``'imagenet'``, ``'single'``, a list or a file; passed to the head
            as ``templates``. None keeps the head's value (``'openai'`` by
            default). Defaults to None.
        context_length (int): Tokenizer context length. Defaults to 52.
        vocab_file (str, optional): Vocabulary file. Defaults to None.
        freeze_text (bool): Freeze the text tower (no gradients, eval mode;
            the head then uses cached prototypes in training too). Defaults
            to False.
        head (dict, optional): Further options of the head, e.g.
            ``dict(cache_file='protos.pth')``. Defaults to
            ``dict(type='mmcnclip.ZeroShotClsHead')``.
        data_preprocessor (dict, optional): Defaults to
            ``ClsDataPreprocessor`` with CLIP mean/std on RGB input.
        train_cfg (dict, optional): Batch augmentations, see
            :class:`mmpretrain.models.ImageClassifier`. Defaults to None.
        pretrained (str | dict, optional): Checkpoint loaded at
            ``init_weights``; a dict names an image and a text checkpoint to
            merge (see :meth:`LoadsAnyCheckpointLayout.set_tower_checkpoints
            <mmcnclip.checkpoint.LoadsAnyCheckpointLayout.set_tower_checkpoints>`,
            e.g. Taiyi-CLIP). Defaults to None.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 text_proj: dict,
                 neck: Optional[dict] = None,
                 text_prototype=None,
                 text_prompt=None,
                 context_length: int = 52,
                 vocab_file: Optional[str] = None,
                 freeze_text: bool = False,
                 head: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 pretrained: Union[str, dict, None] = None,
                 init_cfg: Optional[dict] = None):
        head_cfg = dict(type='mmcnclip.ZeroShotClsHead')
        head_cfg.update(head or {})
        given = dict(text_prototype=text_prototype, text_prompt=text_prompt)
        for arg, value in given.items():
            if value is None:
                continue
            head_arg = HEAD_ARGS[arg]
            if head_arg in head_cfg:
                raise ValueError(
                    f'ZeroShotClassifier got both model.{arg} and '
                    f'model.head.{head_arg}; set only one of them')
            head_cfg[head_arg] = value
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head_cfg,
            pretrained=None if isinstance(pretrained, dict) else pretrained,
            train_cfg=train_cfg,
            data_preprocessor=default_data_preprocessor(
                data_preprocessor, 'ClsDataPreprocessor'),
            init_cfg=init_cfg)
        if isinstance(pretrained, dict):
            self.set_tower_checkpoints(pretrained)
        self.init_text_tower(text_encoder, text_proj, context_length,
                             vocab_file, freeze_text)
        self.head.bind_text_tower(self)
        self.freeze_modules()

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Projected, unnormalised image features (B, embed_dim)."""
        return self.extract_feat(images)[-1]
