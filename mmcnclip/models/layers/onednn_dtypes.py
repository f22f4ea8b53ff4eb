"""The dtypes oneDNN computes on this CPU.

oneDNN runs fp32 on every x86 CPU but bf16 only with AVX-512 (BW, VL, DQ)
or AVX-NE-CONVERT, and not at all when ``ONEDNN_MAX_CPU_ISA`` caps it
below them. Asked for bf16 where it has none, its fused linear and
convolution raise instead of falling back, so the fused layers, the route
choice and the benchmark ask :func:`onednn_computes` first.
"""
import functools

import torch

#: the dtypes the fused oneDNN layers are written for
ONEDNN_DTYPES = (torch.float32, torch.bfloat16)


@functools.lru_cache(maxsize=None)
def onednn_computes(dtype: torch.dtype) -> bool:
    """Whether oneDNN computes ``dtype`` (one of :data:`ONEDNN_DTYPES`) on
    this CPU, as oneDNN itself reports it."""
    if dtype not in ONEDNN_DTYPES or not torch.backends.mkldnn.is_available():
        return False
    if dtype == torch.bfloat16:
        supported = getattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported',
                            None)
        return bool(supported is not None and supported())
    return True
