"""Opt-in int8 inference on the CPU through PyTorch's dynamic quantisation.

Linear layers get int8 weights (per output channel) and quantise their
activations per batch on the fly (``torch.ao.quantization.quantize_dynamic``,
fbgemm/x86 kernels). Convolutions stay fp32: dynamic quantisation has no
convolution kernel, so a ResNet tower gains little (see
``docs/performance.md``).
"""
import warnings

import torch
from torch import nn

#: marks the int8 precision in :data:`~mmcnclip.models.inference.PRECISIONS`
INT8 = torch.qint8


def quantize_linear_int8_(model: nn.Module) -> int:
    """Replace every ``nn.Linear`` of ``model`` (in eval mode, on the CPU)
    by a dynamically quantised int8 linear layer, in place.

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
    count = sum(type(m) is nn.Linear for m in model.modules())
    with warnings.catch_warnings():  # PyTorch's deprecation notes on ao
        warnings.simplefilter('ignore')
        torch.ao.quantization.quantize_dynamic(
            model, {nn.Linear}, dtype=torch.qint8, inplace=True)
    return count
