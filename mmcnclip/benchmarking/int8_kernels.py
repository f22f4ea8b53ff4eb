"""oneDNN's int8 linear against fbgemm's, per linear layer family.

``--prepare int8`` runs every linear layer as an
:class:`~mmcnclip.models.layers.int8_linear.Int8Linear` (oneDNN). PyTorch's
other int8 linear is fbgemm's, behind ``quantize_dynamic`` (7-bit
activations on x86, activation not fused). :func:`int8_kernel_rows` times
both, with the prepared fp32 layer as the reference, on the CPU at hand and
reports their relative output errors, so that the choice can be checked on
any CPU (``python tools/benchmark.py --int8-kernels``).
"""
import torch
import torch.nn.functional as F
from torch import nn

from mmcnclip.models.layers.fused_linear import (ACTIVATIONS, FusedLinear,
                                                 layer_family)
from mmcnclip.models.layers.int8_linear import Int8Linear
from mmcnclip.models.layers.kernel_routes import MEASURE_ROWS
from mmcnclip.models.quantization import quantize_dynamic_per_channel_
from .timing import interleaved


def fbgemm_linear(layer: FusedLinear):
    """``layer`` (weights and activation) through ``quantize_dynamic`` with
    per-channel weights: a callable."""
    linear = nn.Linear(1, 1)
    linear.weight, linear.bias = layer.weight, layer.bias
    quantized = quantize_dynamic_per_channel_(nn.Sequential(linear.eval()))
    fallback = ACTIVATIONS[layer.act][2]
    return quantized if fallback is None else (
        lambda x: fallback(quantized(x)))


def _rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    return ((out - ref).norm() / ref.norm()).item()


def int8_kernel_rows(model: nn.Module, rows: int = MEASURE_ROWS,
                     rounds: int = 5) -> list:
    """One row per fp32 linear layer family of a prepared ``model``: best
    milliseconds of the fp32 layer, oneDNN int8 and fbgemm int8 on
    ``rows`` layer-normalised random inputs, and the int8 relative output
    errors; the families' first layers stand for them.

    Returns:
        list[dict]: ``family``, ``count``, ``fp32_ms``, ``onednn_ms``,
        ``fbgemm_ms``, ``onednn_err``, ``fbgemm_err``.
    """
    families = {}
    for module in model.modules():
        if (isinstance(module, FusedLinear)
                and module.weight.dtype == torch.float32):
            entry = families.setdefault(layer_family(module), [module, 0])
            entry[1] += 1
    out = []
    for family, (layer, count) in families.items():
        in_features = layer.weight.shape[1]
        x = F.layer_norm(torch.randn(rows, in_features), (in_features, ))
        calls = {'fp32': layer, 'onednn': Int8Linear(layer, layer.act),
                 'fbgemm': fbgemm_linear(layer)}
        times = interleaved({k: (lambda f=f: f(x))
                             for k, f in calls.items()}, rounds)
        with torch.inference_mode():
            ref = layer(x)
            errs = {k: _rel_err(calls[k](x), ref)
                    for k in ('onednn', 'fbgemm')}
        out.append(dict(
            family=family, count=count,
            **{f'{k}_ms': best * 1e3 for k, (_, best) in times.items()},
            **{f'{k}_err': err for k, err in errs.items()}))
    return out
