"""Opt-in int8 inference on the CPU.

Linear layers get int8 weights (per output channel) and quantise their
activations per call on the fly: :class:`~.layers.int8_linear.Int8Linear`
(oneDNN's int8 primitive, 8-bit activations, MLP activation fused) where
PyTorch has it, else ``torch.ao.quantization.quantize_dynamic`` (fbgemm).
Dynamic quantisation has no convolution kernel: the
convolutions of a ModifiedResNet (92% of its time) are quantised statically
instead, with activation ranges observed on calibration images
(:func:`quantize_resnet_stages_int8_`, FX graph mode), when preparation is
given such images (``tools/test.py --prepare int8`` uses its first batch).
See ``docs/performance.md``.
"""
import warnings

import torch
from torch import nn

from .backbones.modified_resnet import ModifiedResNet, run_stages
from .layers.fused_linear import fuse_linear_layers_
from .layers.int8_linear import Int8Linear, onednn_int8_linear_available

#: marks the int8 precision in :data:`~mmcnclip.models.inference.PRECISIONS`
INT8 = torch.qint8


def quantize_linear_int8_(model: nn.Module) -> int:
    """Replace every ``nn.Linear`` of ``model`` (in eval mode, on the CPU)
    by a dynamically quantised int8 linear layer, in place: an
    :class:`~.layers.int8_linear.Int8Linear` (the MLP activations fused)
    with oneDNN's int8 linear, else PyTorch's ``quantize_dynamic`` with
    per-channel weights.

    Args:
        model (nn.Module): The model; its weights are quantised, so it can
            no longer be trained or saved as a checkpoint.

    Returns:
        int: The number of layers quantised.
    """
    if model.training:
        raise RuntimeError('quantize_linear_int8_ needs model.eval()')
    if any(p.device.type != 'cpu' for p in model.parameters()):
        raise RuntimeError('int8 dynamic quantisation runs on the CPU only; '
                           'move the model to the CPU first')
    if onednn_int8_linear_available():
        return fuse_linear_layers_(model, Int8Linear)
    count = sum(type(m) is nn.Linear for m in model.modules())
    quantize_dynamic_per_channel_(model)
    return count


def quantize_dynamic_per_channel_(model: nn.Module) -> nn.Module:
    """PyTorch's ``quantize_dynamic`` (fbgemm on x86) on every
    ``nn.Linear`` of ``model``, weights per output channel, in place."""
    with warnings.catch_warnings():  # PyTorch's deprecation notes on ao
        warnings.simplefilter('ignore')
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
        return torch.ao.quantization.quantize_dynamic(
            model, {nn.Linear: qconfig}, inplace=True)


class _Stages(nn.Module):
    """A ModifiedResNet's stem and stages as one traceable module (shares
    the backbone's submodules)."""

    NAMES = ('conv1', 'bn1', 'conv2', 'bn2', 'conv3', 'bn3', 'relu',
             'avgpool', 'layer1', 'layer2', 'layer3', 'layer4')

    def __init__(self, resnet: ModifiedResNet):
        super().__init__()
        for name in self.NAMES:
            setattr(self, name, getattr(resnet, name))

    def forward(self, x: torch.Tensor) -> list:
        return run_stages(self, x)


def quantize_resnet_stages_int8_(model: nn.Module,
                                 images: torch.Tensor) -> int:
    """Statically quantise the convolution stages of every ModifiedResNet in
    ``model`` (eval mode, CPU, BatchNorms folded or not), in place.

    The stem and the four stages are traced (FX graph mode), observed on
    ``images`` (the backbone's input: preprocessed, normalised images) and
    converted to int8 convolutions with the qconfig of PyTorch's active
    quantised engine; the result is set as the backbone's ``int8_stages``.
    The attention pool stays fp32 (its linear layers are quantised
    dynamically by :func:`quantize_linear_int8_`).

    Args:
        model (nn.Module): The model.
        images (Tensor): Calibration images, (B, 3, H, W); a few dozen
            real images are enough, more give better activation ranges.

    Returns:
        int: The number of backbones quantised.
    """
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    if model.training:
        raise RuntimeError('quantize_resnet_stages_int8_ needs model.eval()')
    backbones = [m for m in model.modules() if isinstance(m, ModifiedResNet)
                 and m.int8_stages is None]
    qconfig = get_default_qconfig_mapping(torch.backends.quantized.engine)
    for resnet in backbones:
        x = images.to(resnet.conv1.weight.dtype).contiguous(
            memory_format=torch.channels_last)
        with warnings.catch_warnings():  # PyTorch's deprecation notes on ao
            warnings.simplefilter('ignore')
            observed = prepare_fx(_Stages(resnet), qconfig, (x, ))
            with torch.no_grad():
                observed(x)
            resnet.int8_stages = convert_fx(observed)
    return len(backbones)
