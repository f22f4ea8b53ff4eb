"""Taiyi-CLIP's text projection: a Linear with bias, or none."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from mmcnclip.registry import MODELS


@MODELS.register_module()
class TextProjection(BaseModule):
    """``x @ proj + bias``: the ``classifier`` of Taiyi's
    ``BertForSequenceClassification`` text towers (102M/326M, output dim =
    CLIP embedding size), or the identity when ``out_channels`` is None (the
    ViT-H variant uses the 1024-d pooler output directly).

    Args:
        in_channels (int): Text feature width.
        out_channels (int, optional): Embedding width; None for identity.
            Defaults to None.
        bias (bool): Learnable bias. Defaults to True.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: Optional[int] = None,
                 bias: bool = True,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.proj = self.bias = None
        if out_channels is None:
            return
        self.proj = nn.Parameter(
            torch.randn(in_channels, out_channels) * in_channels**-0.5)
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, inputs: tuple) -> tuple:
        x = inputs[-1]
        if self.proj is None:
            return (x, )
        x = x @ self.proj.to(x.dtype)
        return (x if self.bias is None else x + self.bias.to(x.dtype), )
