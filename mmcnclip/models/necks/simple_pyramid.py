"""ViTDet-style simple feature pyramid for plain (single-scale) ViTs."""
from typing import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from mmcnclip.registry import MODELS


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape,
                         self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def _norm(cfg: dict, channels: int) -> nn.Module:
    cfg = dict(cfg)
    if cfg.pop('type') == 'LN2d':
        return LayerNorm2d(channels, **cfg)
    from mmcv.cnn import build_norm_layer
    return build_norm_layer(dict(cfg, type=cfg.get('type')), channels)[1]


@MODELS.register_module()
class SimpleFeaturePyramid(BaseModule):
    """Multi-scale maps from the single stride-16 map of a plain ViT.

    Following ViTDet (Li et al., 2022), scale 4 uses two stride-2
    deconvolutions, scale 2 one, scale 1 the map itself and scale 0.5 a
    max-pool; each branch then has a 1x1 and a 3x3 convolution (with norm)
    to ``out_channels``. With ``num_outs`` one more than ``len(scales)`` an
    extra level is max-pooled from the last one (RetinaNet's P6).

    Args:
        in_channels (int): Channels of the input map (the ViT width).
        out_channels (int): Channels of every output level.
        scales (Sequence[float]): Up/down-sampling factor of each level,
            each one of 4, 2, 1, 0.5. Defaults to ``(4, 2, 1, 0.5)``
            (strides 4-32 for a patch-16 ViT).
        num_outs (int, optional): Number of outputs; ``len(scales)`` or one
            more. Defaults to ``len(scales)``.
        norm_cfg (dict): Norm after deconvolutions and convolutions;
            ``'LN2d'`` (channel LayerNorm) or any mmcv norm (``'BN'``,
            ``'GN'``...). Defaults to ``dict(type='LN2d', eps=1e-6)``.
        in_index (int): Which backbone output to use. Defaults to -1.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 scales: Sequence[float] = (4, 2, 1, 0.5),
                 num_outs: int = None,
                 norm_cfg: dict = dict(type='LN2d', eps=1e-6),
                 in_index: int = -1,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        num_outs = len(scales) if num_outs is None else num_outs
        if num_outs not in (len(scales), len(scales) + 1):
            raise ValueError(f'num_outs={num_outs} must be len(scales)='
                             f'{len(scales)} or one more')
        self.num_outs = num_outs
        self.in_index = in_index
        self.in_channels = in_channels
        self.stages = nn.ModuleList()
        for scale in scales:
            sampler, dims = self._sampler(scale, in_channels, norm_cfg)
            self.stages.append(nn.Sequential(
                sampler,
                nn.Conv2d(dims, out_channels, 1, bias=False),
                _norm(norm_cfg, out_channels),
                nn.Conv2d(out_channels, out_channels, 3, padding=1,
                          bias=False),
                _norm(norm_cfg, out_channels)))

    @staticmethod
    def _sampler(scale: float, dims: int, norm_cfg: dict):
        """The resampling part of one level and its output channels."""
        if scale == 4:
            return nn.Sequential(
                nn.ConvTranspose2d(dims, dims // 2, 2, stride=2),
                _norm(norm_cfg, dims // 2), nn.GELU(),
                nn.ConvTranspose2d(dims // 2, dims // 4, 2,
                                   stride=2)), dims // 4
        if scale == 2:
            return nn.ConvTranspose2d(dims, dims // 2, 2, stride=2), dims // 2
        if scale == 1:
            return nn.Identity(), dims
        if scale == 0.5:
            return nn.MaxPool2d(2, stride=2), dims
        raise ValueError(f'Unsupported scale {scale}; use 4, 2, 1 or 0.5')

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple:
        """Turn the backbone outputs into ``num_outs`` maps (high to low
        resolution)."""
        x = inputs[self.in_index]
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'SimpleFeaturePyramid expects a (B, {self.in_channels}, H, W)'
                f' map (use out_type="featmap" on the ViT), got '
                f'{tuple(x.shape)}')
        outs = [stage(x) for stage in self.stages]
        if self.num_outs > len(outs):
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return tuple(outs)
