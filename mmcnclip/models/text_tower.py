"""The text side of every mmcnclip model: text encoder, projection,
tokenizer and the learned temperature, built and frozen in one place."""
import math
from typing import List, Optional, Union

import torch
from torch import nn

from mmcnclip.registry import MODELS
from mmcnclip.text import ChineseTokenizer
from .utils import freeze

#: The official initial temperature: ``logit_scale = ln(1 / 0.07)``.
INIT_LOGIT_SCALE = math.log(1 / 0.07)


class TextTower:
    """Mixin of the models that own the text side (``ChineseCLIP``,
    ``ZeroShotClassifier``), at the same attribute paths in both, so their
    checkpoints share one layout: ``text_encoder.*``, ``text_proj.*`` and
    ``logit_scale``.

    Gives the CLIP-familiar API :meth:`tokenize`, :meth:`encode_text` and
    :attr:`logit_scale`, and keeps frozen parts (:meth:`frozen_modules`) in
    eval mode across ``train()`` calls.
    """
    tokenizer: ChineseTokenizer

    def init_text_tower(self,
                        text_encoder: dict,
                        text_proj: dict,
                        context_length: int = 52,
                        vocab_file: Optional[str] = None,
                        freeze_text: bool = False) -> None:
        """Build the text side (call from ``__init__``).

        Args:
            text_encoder (dict): Text tower (``mmcnclip.BertTextEncoder``).
            text_proj (dict): Text projection (``mmcnclip.CLIPProjection``
                or ``mmcnclip.TextProjection``).
            context_length (int): Token length of :meth:`tokenize`.
                Defaults to 52.
            vocab_file (str, optional): Vocabulary; the packaged Chinese BERT
                vocab when None. Defaults to None.
            freeze_text (bool): Freeze the text tower and its projection (no
                gradients, eval mode). Defaults to False.
        """
        self.text_encoder = MODELS.build(text_encoder)
        self.text_proj = MODELS.build(text_proj)
        self.logit_scale = nn.Parameter(torch.tensor(INIT_LOGIT_SCALE))
        self.tokenizer = ChineseTokenizer(vocab_file, context_length)
        self.freeze_text = freeze_text

    def text_modules(self) -> List[nn.Module]:
        """The modules holding the text-side weights."""
        return [self.text_encoder, self.text_proj]

    def frozen_modules(self) -> List[nn.Module]:
        """Modules kept frozen; models add theirs (e.g. the image tower)."""
        return self.text_modules() if self.freeze_text else []

    def freeze_modules(self) -> None:
        """Freeze :meth:`frozen_modules` (call at the end of ``__init__``)."""
        freeze(self.frozen_modules())

    def train(self, mode: bool = True):
        """Set the mode; frozen modules always stay in eval mode."""
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    def tokenize(self,
                 texts: Union[str, List[str]],
                 pad_to_longest: bool = False) -> torch.Tensor:
        """Token ids like ``cn_clip.clip.tokenize`` (context length 52)."""
        return self.tokenizer(texts, pad_to_longest=pad_to_longest)

    def encode_text(
            self, texts: Union[str, List[str], torch.Tensor]) -> torch.Tensor:
        """Projected, unnormalised text features.

        Args:
            texts (str | list[str] | Tensor): Raw texts (tokenised and padded
                to the longest in the batch, which gives the same features as
                padding to 52) or token ids of shape (B, L).

        Returns:
            Tensor: Features of shape (B, embed_dim).
        """
        if not isinstance(texts, torch.Tensor):
            texts = self.tokenize(texts, pad_to_longest=True)
        texts = texts.to(self.logit_scale.device)
        return self.text_proj(self.text_encoder(texts))[-1]
