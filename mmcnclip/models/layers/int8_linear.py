"""A linear layer with int8 weights and per-call uint8 activations, run by
oneDNN on the CPU.

PyTorch's dynamic quantisation (``quantize_dynamic``, fbgemm) quantises
weights per tensor by default and activations to 7 bits (``reduce_range``,
for CPUs without VNNI). :class:`Int8Linear` quantises weights per output
channel (symmetric int8) and each call's input to 8 bits (per tensor,
asymmetric uint8, range from the input itself), then runs matrix product,
bias and the MLP activation as one oneDNN int8 primitive
(``torch.ops.onednn.qlinear_pointwise``) with fp32 output: less error
than ``quantize_dynamic``'s defaults (tested) and faster (ViT-B/16 int8
tower 2.38x the prepared fp32 one against 1.72x, ``docs/performance.md``).

On CPUs without VNNI (AVX2, AVX-512 before Cascade Lake) oneDNN adds pairs
of uint8 x int8 products in saturating int16 (``vpmaddubsw``; 255 * 127 * 2
> 32767), which multiplies the error of 8-bit weights by about eight.
:func:`int8_products_saturate` finds this out by running the kernel once,
and the weights are then quantised to 7 bits (255 * 63 * 2 < 32767).
"""
import functools
import math
import warnings
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .fused_linear import ACTIVATIONS, check_activation
from .kernel_routes import Route
from .packed_weight import PackedWeight


def onednn_int8_linear_available() -> bool:
    """Whether this PyTorch build has oneDNN's int8 linear operator."""
    return (torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.onednn, 'qlinear_pointwise')
            and hasattr(torch.ops.onednn, 'qlinear_prepack'))


@functools.lru_cache(maxsize=None)
def int8_products_saturate() -> bool:
    """Whether oneDNN's int8 linear on this CPU saturates its products,
    measured on the worst case (uint8 255 times int8 127), once per
    process; False without oneDNN's int8 linear."""
    if not onednn_int8_linear_available():
        return False
    rows, depth = 16, 64
    x = torch.full((rows, depth), 255, dtype=torch.uint8)
    w = torch.full((rows, depth), 127, dtype=torch.int8)
    out = torch.ops.onednn.qlinear_pointwise(
        x, 1.0, 0, torch.ops.onednn.qlinear_prepack(w, None),
        torch.ones(rows), torch.zeros(rows, dtype=torch.long), None, 1.0,
        0, torch.float32, 'none', [], '')
    return bool(out.min() < 255 * 127 * depth)  # exact in fp32


def quantize_weight(weight: torch.Tensor, levels: int = 127) -> tuple:
    """Symmetric per output channel, integers in ``[-levels, levels]``:
    ``(int8 weight, fp32 scales)``."""
    w = weight.detach().float()
    scale = w.abs().amax(dim=1).clamp_min(1e-12) / levels
    q = torch.round(w / scale[:, None]).clamp_(-levels, levels)
    return q.to(torch.int8), scale


def quantize_activation(x: torch.Tensor) -> Optional[tuple]:
    """Asymmetric uint8 per tensor over ``x``'s range (and 0):
    ``(uint8 tensor, scale, zero point)``; None when ``x`` is not finite."""
    lo, hi = (v.item() for v in torch.aminmax(x))
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    scale = max((hi - lo) / 255, 1e-12)
    zero_point = min(255, max(0, round(-lo / scale)))
    with warnings.catch_warnings():  # quantised tensors are deprecated
        warnings.simplefilter('ignore')
        q = torch.quantize_per_tensor(x, scale, zero_point,
                                      torch.quint8).int_repr()
    return q, scale, zero_point


class Int8Linear(nn.Module):
    """``act(x @ weight.T + bias)`` with int8 weights, for CPU inference.

    Holds ``weight`` (int8, per output channel; 7-bit where the CPU's int8
    products saturate, see :func:`int8_products_saturate`),
    ``weight_scale`` (fp32) and the fp32 ``bias``. On a CPU with oneDNN's
    int8 linear, a call quantises its input to uint8 over the input's own
    range and runs one int8 oneDNN primitive with fp32 output; otherwise
    (no gradient support, other devices, non-finite inputs) it computes the
    same product with the dequantised weights in fp32.

    Args:
        linear (nn.Module): An ``nn.Linear`` or
            :class:`~.fused_linear.FusedLinear` whose weights are quantised.
        act (str, optional): ``None``, ``'silu'`` or ``'gelu'`` (exact).
            Defaults to None.
    """

    def __init__(self, linear: nn.Module, act: Optional[str] = None):
        super().__init__()
        self.act = check_activation(act)
        self.onednn = onednn_int8_linear_available()
        seven_bits = self.onednn and int8_products_saturate()
        q, scale = quantize_weight(linear.weight, 63 if seven_bits else 127)
        self.register_buffer('weight', q)
        self.register_buffer('weight_scale', scale)
        self.register_buffer('weight_zero_point',
                             torch.zeros_like(scale, dtype=torch.long),
                             persistent=False)
        self.bias = (None if linear.bias is None else nn.Parameter(
            linear.bias.detach().float(), requires_grad=False))
        weights = ('7-bit weights per channel (int8 products saturate in '
                   'int16 on this CPU: no VNNI)' if seven_bits else
                   'per-channel int8 weights')
        self.route = (Route('onednn int8', f'{weights}, uint8 activations '
                            'quantised per call')
                      if self.onednn else
                      Route('fp32', 'no oneDNN int8 linear: dequantised'))
        self.packed = PackedWeight()

    def extra_repr(self) -> str:
        out_features, in_features = self.weight.shape
        return (f'in_features={in_features}, out_features={out_features}, '
                f'bias={self.bias is not None}, act={self.act}, int8')

    def _onednn(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        if not (self.onednn and x.device.type == 'cpu'
                and x.dtype == torch.float32 and not torch.is_grad_enabled()
                and not torch.compiler.is_compiling()):
            return None
        quantized = quantize_activation(x.contiguous())
        if quantized is None:
            return None
        qx, scale, zero_point = quantized
        post_op, algorithm, _ = ACTIVATIONS[self.act]
        packed = self.packed.get(
            self.weight, None,
            lambda: torch.ops.onednn.qlinear_prepack(self.weight, None))
        return torch.ops.onednn.qlinear_pointwise(
            qx, scale, zero_point, packed, self.weight_scale,
            self.weight_zero_point, self.bias,
            1.0, 0, torch.float32, post_op, [], algorithm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._onednn(x)
        if out is not None:
            return out
        weight = self.weight.to(x.dtype) * self.weight_scale.to(
            x.dtype)[:, None]
        bias = None if self.bias is None else self.bias.to(x.dtype)
        out = F.linear(x, weight, bias)
        fallback = ACTIVATIONS[self.act][2]
        return out if fallback is None else fallback(out)
