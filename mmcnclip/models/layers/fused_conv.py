"""Convolutions with their ReLU (and residual add) run by oneDNN on the CPU.

After BatchNorm folding a ResNet bottleneck is conv-ReLU, conv-ReLU, pool,
conv + shortcut + ReLU. Run separately, the ReLUs and the residual add are
full passes over the activations: about 28% of a prepared RN50's CPU time
(profiled, batch 16). oneDNN applies them as post-ops of the convolution
(``torch.ops.mkldnn._convolution_pointwise``); elsewhere (GPU, autograd,
compilers, fp16) the layers run the same PyTorch ops as before.

oneDNN computes with its own blocked weight layout. Given a plain tensor,
the primitive reorders the weights at every call; :class:`FusedConv2d`
reorders them once per input shape instead (a cached copy, rebuilt when
the weights change): the RN50 convolutions took 4-5% less time (each
timed alone, batch 16).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .onednn_dtypes import onednn_computes
from .packed_weight import PackedWeight


def onednn_conv_available() -> bool:
    """Whether this PyTorch build has oneDNN's fused convolution and its
    weight reorder."""
    return (torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, '_convolution_pointwise')
            and hasattr(torch._C._nn, 'mkldnn_reorder_conv2d_weight'))


class FusedConv2d(nn.Module):
    """``relu(conv(x) [+ residual])`` as one oneDNN primitive on the CPU.

    Adopts the parameters of an ``nn.Conv2d`` (same ``weight``/``bias``
    names). On the oneDNN path the weights are used in oneDNN's blocked
    layout, reordered once for each new input shape or new weight values
    and kept beside the parameters (not in the state dict, not copied or
    pickled).

    Args:
        conv (nn.Conv2d): The convolution (zero padding, no padding mode).
        relu (bool): Apply a ReLU after the convolution (and the residual).
            Defaults to True.
    """

    def __init__(self, conv: nn.Conv2d, relu: bool = True):
        super().__init__()
        if conv.padding_mode != 'zeros' or isinstance(conv.padding, str):
            raise ValueError('FusedConv2d needs numeric zero padding')
        self.weight, self.bias = conv.weight, conv.bias
        self.stride, self.padding = list(conv.stride), list(conv.padding)
        self.dilation, self.groups = list(conv.dilation), conv.groups
        self.relu = relu
        self.onednn = onednn_conv_available()
        self.packed = PackedWeight()  # oneDNN's layout, per input shape

    def extra_repr(self) -> str:
        out_ch, in_ch, kh, kw = self.weight.shape
        return (f'{in_ch * self.groups}, {out_ch}, kernel_size=({kh}, {kw}), '
                f'stride={tuple(self.stride)}, padding={tuple(self.padding)}'
                f', relu={self.relu}')

    def _runs_onednn(self, x: torch.Tensor) -> bool:
        return (self.onednn and x.device.type == 'cpu'
                and onednn_computes(x.dtype) and x.dtype == self.weight.dtype
                and not (torch.is_grad_enabled() and
                         (x.requires_grad or self.weight.requires_grad))
                and not torch.jit.is_tracing()
                and not torch.compiler.is_compiling())

    def _packed_weight(self, x: torch.Tensor) -> torch.Tensor:
        """The weights in oneDNN's layout for inputs shaped like ``x``."""
        return self.packed.get(
            self.weight, tuple(x.shape),
            lambda: torch._C._nn.mkldnn_reorder_conv2d_weight(
                self.weight.detach().contiguous().to_mkldnn(), self.padding,
                self.stride, self.dilation, self.groups, list(x.shape)))

    def forward(self, x: torch.Tensor,
                residual: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self._runs_onednn(x):
            unary = 'relu' if self.relu else 'none'
            weight = self._packed_weight(x)
            if residual is None:
                return torch.ops.mkldnn._convolution_pointwise(
                    x, weight, self.bias, self.padding, self.stride,
                    self.dilation, self.groups, unary, [], '')
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, residual.contiguous(memory_format=_layout(x)),
                weight, self.bias, self.padding, self.stride,
                self.dilation, self.groups, 'add', None,
                unary if self.relu else None, [], None)
        out = F.conv2d(x, self.weight, self.bias, self.stride, self.padding,
                       self.dilation, self.groups)
        if residual is not None:
            out = out + residual
        return F.relu(out, inplace=True) if self.relu else out


def _layout(x: torch.Tensor) -> torch.memory_format:
    return (torch.channels_last
            if x.is_contiguous(memory_format=torch.channels_last)
            else torch.contiguous_format)


class FusedBottleneck(nn.Module):
    """A BatchNorm-folded ModifiedResNet bottleneck on :class:`FusedConv2d`:
    ``conv3(pool(conv2(conv1(x))), shortcut(x))`` with every ReLU and the
    residual add inside the convolutions, and the shortcut's convolution a
    :class:`FusedConv2d` too. Parameter names are unchanged.

    Args:
        block (nn.Module): A ``Bottleneck`` whose BatchNorms are folded
            (``bn1``-``bn3`` are ``nn.Identity``).
    """

    def __init__(self, block: nn.Module):
        super().__init__()
        self.conv1 = FusedConv2d(block.conv1)
        self.conv2 = FusedConv2d(block.conv2)
        self.avgpool = block.avgpool
        self.conv3 = FusedConv2d(block.conv3)
        self.downsample = block.downsample
        shortcut = [] if block.downsample is None else list(
            block.downsample.named_children())
        for name, child in shortcut:
            if isinstance(child, nn.Conv2d):
                setattr(self.downsample, name, FusedConv2d(child, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.conv3(self.avgpool(self.conv2(self.conv1(x))), identity)


def fuse_bottlenecks_(model: nn.Module, block_type: type) -> int:
    """Replace every BatchNorm-folded ``block_type`` of ``model`` by a
    :class:`FusedBottleneck`.

    Returns:
        int: The number of blocks replaced.
    """
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is block_type and all(
                    isinstance(getattr(child, f'bn{i}'), nn.Identity)
                    for i in (1, 2, 3)):
                setattr(parent, name, FusedBottleneck(child))
                count += 1
    return count


def fuse_stems_(model: nn.Module, backbone_type: type) -> int:
    """Turn the BatchNorm-folded conv-ReLU stem (``conv1``-``conv3``, a
    shared ``relu``) of every ``backbone_type`` in ``model`` into
    :class:`FusedConv2d` layers with the ReLU inside; ``relu``, which only
    the stem uses, becomes an identity. Parameter names are unchanged.

    Returns:
        int: The number of stems fused.
    """
    count = 0
    for backbone in model.modules():
        names = [(f'conv{i}', f'bn{i}') for i in (1, 2, 3)]
        if not (type(backbone) is backbone_type
                and isinstance(getattr(backbone, 'relu', None), nn.ReLU)
                and all(isinstance(getattr(backbone, conv), nn.Conv2d)
                        and isinstance(getattr(backbone, bn), nn.Identity)
                        for conv, bn in names)):
            continue
        for conv, _ in names:
            setattr(backbone, conv, FusedConv2d(getattr(backbone, conv)))
        backbone.relu = nn.Identity()
        count += 1
    return count
