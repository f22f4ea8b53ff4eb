"""Linear projection of a tower's feature into the shared CLIP space."""
import torch
from mmengine.model import BaseModule
from torch import nn

from mmcnclip.registry import MODELS


@MODELS.register_module()
class CLIPProjection(BaseModule):
    """``x @ proj`` without bias, as in CLIP (``visual.proj`` and
    ``text_projection`` of the official checkpoints).

    Takes the tuple a backbone returns and projects its last element.

    Args:
        in_channels (int): Feature width of the tower.
        out_channels (int): Width of the shared embedding space.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self, in_channels: int, out_channels: int, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.proj = nn.Parameter(
            torch.randn(in_channels, out_channels) * in_channels**-0.5)

    def forward(self, inputs: tuple) -> tuple:
        return (inputs[-1] @ self.proj.to(inputs[-1].dtype), )
