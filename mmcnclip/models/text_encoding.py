"""The CLIP-familiar text API shared by every model that owns a text tower."""
from typing import List, Union

import torch

from mmcnclip.text import ChineseTokenizer

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class EncodesText:
    """Mixin giving ``tokenize`` and ``encode_text`` to a module holding
    ``tokenizer``, ``text_encoder`` and ``text_proj``."""
    tokenizer: ChineseTokenizer

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
        texts = texts.to(self.text_proj.proj.device)
        return self.text_proj(self.text_encoder(texts))[-1]
