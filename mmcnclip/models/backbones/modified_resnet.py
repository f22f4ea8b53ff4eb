"""The ModifiedResNet image encoder (CLIP RN50) of Chinese CLIP."""
from collections import OrderedDict
from typing import Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from mmcnclip.checkpoint.tower import init_tower_from_cfg
from mmcnclip.registry import MODELS
from ..utils import FreezesStages, freeze, normalise_indices
from .pos_embed import resize_pos_embed


class Bottleneck(nn.Module):
    """Bottleneck with anti-aliased striding: an avgpool after conv2 (and
    before the shortcut conv) replaces strided convolutions."""
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride > 1 or inplanes != planes * self.expansion:
            # '-1' holds no weights; '0'/'1' keep the official key names.
            self.downsample = nn.Sequential(
                OrderedDict([('-1', nn.AvgPool2d(stride)),
                             ('0',
                              nn.Conv2d(inplanes, planes * self.expansion, 1,
                                        bias=False)),
                             ('1', nn.BatchNorm2d(planes * self.expansion))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.avgpool(self.relu(self.bn2(self.conv2(out))))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def run_stages(resnet: nn.Module, x: torch.Tensor) -> list:
    """The stem and the four stages of a ModifiedResNet.

    Args:
        resnet (nn.Module): Holds the ModifiedResNet's ``conv1``-``conv3``,
            ``bn1``-``bn3``, ``relu``, ``avgpool`` and ``layer1``-``layer4``
            (the backbone itself, or a wrapper that is traced for int8).
        x (Tensor): The images, (B, 3, H, W).

    Returns:
        list[Tensor]: The outputs of the four stages.
    """
    for conv, bn in ((resnet.conv1, resnet.bn1), (resnet.conv2, resnet.bn2),
                     (resnet.conv3, resnet.bn3)):
        x = resnet.relu(bn(conv(x)))
    x = resnet.avgpool(x)
    outs = []
    for i in range(4):
        x = getattr(resnet, f'layer{i + 1}')(x)
        outs.append(x)
    return outs


class AttentionPool2d(nn.Module):
    """QKV attention pooling: the mean token attends over all positions.

    Only the query of the mean token is computed, since the other outputs
    are discarded; keys/values use the official separate q/k/v layout.
    """

    def __init__(self, grid: int, embed_dims: int, num_heads: int,
                 output_dims: int):
        super().__init__()
        self.positional_embedding = nn.Parameter(
            torch.randn(grid**2 + 1, embed_dims) / embed_dims**0.5)
        self.k_proj = nn.Linear(embed_dims, embed_dims)
        self.q_proj = nn.Linear(embed_dims, embed_dims)
        self.v_proj = nn.Linear(embed_dims, embed_dims)
        self.c_proj = nn.Linear(embed_dims, output_dims)
        self.num_heads = num_heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)
        pos = self.positional_embedding
        if pos.shape[0] != H * W + 1:
            pos = resize_pos_embed(pos, (H, W))
        x = x + pos.to(x.dtype)
        heads, dim = self.num_heads, C // self.num_heads
        q = self.q_proj(x[:, :1]).view(B, 1, heads, dim).transpose(1, 2)
        k = self.k_proj(x).view(B, -1, heads, dim).transpose(1, 2)
        v = self.v_proj(x).view(B, -1, heads, dim).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.c_proj(out.transpose(1, 2).reshape(B, C))


@MODELS.register_module()
class ModifiedResNet(FreezesStages, BaseModule):
    """CLIP's ModifiedResNet: 3-conv stem, anti-aliased strides, attention
    pooling. State-dict keys equal the official ``visual.*`` keys.

    Outputs are indexed 0-4: stages 0-3 give feature maps of strides 4, 8,
    16 and 32 (256-2048 channels for RN50); index 4 is the attention-pooled,
    projected image embedding (B, output_dims).

    Args:
        depth (int): 50 or 101. Defaults to 50.
        base_channels (int): Stem width. Defaults to 64.
        img_size (int): Input size the attention-pool embedding is built for.
            Defaults to 224.
        output_dims (int): Output width of the attention pool (the CLIP
            embedding size). Defaults to 1024.
        head_width (int): Channels per attention-pool head. Defaults to 64.
        out_indices (Sequence[int]): Which outputs to return. Defaults to
            ``(4,)``.
        frozen_stages (int): Freeze the stem (>= 0) and stages up to this
            index (1-based like mmpretrain's ResNet); -1 freezes nothing.
            Defaults to -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode during training.
            Defaults to False.
        with_attnpool (bool): Build the attention pool. Set False for dense
            tasks that only use stage feature maps. Defaults to True.
        init_cfg (dict, optional): Initialisation config.
            ``dict(type='Pretrained', checkpoint=PATH, prefix='backbone.')``
            loads only the image tower from any supported checkpoint layout
            (the attention pool is skipped when not built), checking every
            key strictly. Defaults to None.
    """
    arch_zoo = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}

    def __init__(self,
                 depth: int = 50,
                 base_channels: int = 64,
                 img_size: int = 224,
                 output_dims: int = 1024,
                 head_width: int = 64,
                 out_indices: Union[int, Sequence[int]] = (4, ),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_attnpool: bool = True,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_zoo:
            raise ValueError(f'Unsupported depth {depth}; choose one of '
                             f'{sorted(self.arch_zoo)}')
        self.img_size = img_size
        self.out_indices = normalise_indices(out_indices, 5)
        if 4 in self.out_indices and not with_attnpool:
            raise ValueError('out index 4 (attention pool) needs '
                             'with_attnpool=True')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        width = base_channels
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(2)
        self.relu = nn.ReLU(inplace=True)

        inplanes = width
        for i, blocks in enumerate(self.arch_zoo[depth]):
            planes = width * 2**i
            stage = [Bottleneck(inplanes, planes, 1 if i == 0 else 2)]
            inplanes = planes * Bottleneck.expansion
            stage += [Bottleneck(inplanes, planes) for _ in range(1, blocks)]
            self.add_module(f'layer{i + 1}', nn.Sequential(*stage))
        self.out_channels = [width * 4 * 2**i for i in range(4)]
        self.attnpool = AttentionPool2d(
            img_size // 32, inplanes, inplanes // head_width,
            output_dims) if with_attnpool else None
        self.pretrained_ignore_keys = None if with_attnpool else \
            r'attnpool\..*'
        #: Set by int8 preparation: the stem and stages as one statically
        #: quantised module (:func:`~mmcnclip.models.quantization.
        #: quantize_resnet_stages_int8_`); None runs the fp32 modules.
        self.int8_stages = None
        self._freeze_stages()
        self._set_memory_format()

    def init_weights(self):
        """Load a ``Pretrained`` init_cfg through mmcnclip's converters
        (any layout, strict), else the default initialisation."""
        if not init_tower_from_cfg(self, 'backbone.'):
            super().init_weights()

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer id of a parameter, for layer-wise learning-rate decay.

        The stem is depth 0, stage ``i`` (1-4) is depth ``i`` and the
        attention pool is last.

        Returns:
            tuple[int, int]: ``(layer_depth, 6)``.
        """
        num_layers = 6
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name.startswith('layer'):
            return int(name[5]), num_layers
        if name.startswith('attnpool'):
            return num_layers - 1, num_layers
        return 0, num_layers

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        modules = [self.conv1, self.bn1, self.conv2, self.bn2, self.conv3,
                   self.bn3]
        modules += [getattr(self, f'layer{i}')
                    for i in range(1, min(self.frozen_stages, 4) + 1)]
        if self.frozen_stages >= 5 and self.attnpool is not None:
            modules.append(self.attnpool)
        freeze(modules)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        self._set_memory_format()
        return self

    def _set_memory_format(self) -> None:
        """Channels-last weights and inputs, except in CPU training.

        Channels-last convolutions avoid oneDNN layout reorders (~1.3x on
        CPU) and are exact enough for inference, but PyTorch's CPU
        training-mode BatchNorm on channels-last tensors is far less
        accurate (activation error 1e-3 after the attention pool against
        6e-7 for the official contiguous layout), so CPU training keeps the
        official layout. Only strides change, never the weights' values.
        """
        self.channels_last = not (self.training and
                                  self.conv1.weight.device.type == 'cpu')
        self.to(memory_format=torch.channels_last if self.channels_last
                else torch.contiguous_format)

    def forward(self, x: torch.Tensor) -> tuple:
        x = x.to(self.conv1.weight.dtype).contiguous(
            memory_format=torch.channels_last if self.channels_last
            else torch.contiguous_format)
        stages = (run_stages(self, x) if self.int8_stages is None else
                  self.int8_stages(x))
        outs = [stages[i] for i in range(4) if i in self.out_indices]
        if 4 in self.out_indices:
            outs.append(self.attnpool(stages[3]))
        return tuple(outs)
