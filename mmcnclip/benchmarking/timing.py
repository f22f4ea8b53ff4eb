"""Interleaved best-of-N timing and the GEMM peak it is compared against."""
import statistics
import time
from typing import Callable, Optional

import torch


def timed(fn: Callable, device: str = 'cpu') -> float:
    """Seconds of one call of ``fn`` (synchronised on CUDA)."""
    if device == 'cuda':
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == 'cuda':
        torch.cuda.synchronize()
    return time.perf_counter() - start


def interleaved(candidates: dict, rounds: int, device: str = 'cpu',
                warmup: Optional[int] = None) -> dict:
    """Time every candidate once per round, round after round, after
    ``warmup`` untimed calls each (default 1 on CPU, 3 on CUDA, where the
    first calls also select kernels), so that load from other processes
    hits every candidate alike.

    Returns:
        dict: ``{name: (median_s, best_s)}`` per call.
    """
    warmup = warmup or (3 if device == 'cuda' else 1)
    times = {k: [] for k in candidates}
    with torch.inference_mode():
        for fn in candidates.values():
            for _ in range(warmup):
                fn()
        for _ in range(rounds):
            for name, fn in candidates.items():
                times[name].append(timed(fn, device))
    return {k: (statistics.median(v), min(v)) for k, v in times.items()}


def gemm_products(device: str, dtype: torch.dtype, n: int) -> dict:
    """``{route: fn}``: an ``n``-cubed product through PyTorch's BLAS
    (``a @ b``) and, on CPU, through oneDNN's GEMM."""
    from mmcnclip.models.layers.fused_linear import onednn_linear_available
    from mmcnclip.models.layers.onednn_dtypes import onednn_computes
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    products = {'blas': lambda: a @ b}
    if (device == 'cpu' and onednn_linear_available()
            and onednn_computes(dtype)):
        products['onednn'] = lambda: torch.ops.mkldnn._linear_pointwise(
            a, b, None, 'none', [], '')
    return products


def gemm_peak(device: str, dtype: torch.dtype, n: Optional[int] = None,
              reps: int = 6, per_route: bool = False):
    """Best achieved GFLOP/s of an ``n``-cubed matrix product in ``dtype``
    (``n`` defaults to 2048 on CPU and 8192 on CUDA, where smaller products
    do not fill the GPU). On CPU the best of PyTorch's BLAS (MKL for fp32)
    and oneDNN's GEMM (where it computes ``dtype``), which can be much
    faster or slower depending on the CPU, so that "% of peak" is measured
    against the faster one.

    Returns:
        float | dict: GFLOP/s, or ``{route: GFLOP/s}`` with ``per_route``.
    """
    n = n or (8192 if device == 'cuda' else 2048)
    best = interleaved(gemm_products(device, dtype, n), reps, device)
    rates = {k: 2 * n**3 / b / 1e9 for k, (_, b) in best.items()}
    return rates if per_route else max(rates.values())
