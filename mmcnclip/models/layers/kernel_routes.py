"""Pick the faster CPU kernel for each linear layer shape (and for bf16
attention) by measuring it.

oneDNN's fused linear beats PyTorch's BLAS (MKL) GEMM on some CPUs (2x on an
AVX-512 AMD EPYC) and loses on others (an AVX-512 Intel Xeon with fast MKL),
so no fixed choice keeps a prepared model at least as fast as the plain one.
:func:`choose_linear_route` times both routes once for a layer family
(weight shape, activation, dtype) on the machine at hand and caches the
winner per CPU model, instruction-set caps, MKL code path, thread count
and PyTorch version in a small JSON file
(``$MMCNCLIP_CACHE_DIR`` or ``~/.cache/mmcnclip``; an unwritable cache only
costs a re-measurement next time).
"""
import json
import os
import os.path as osp
import platform
import tempfile
import time
from typing import Callable, NamedTuple, Optional

import torch
import torch.nn.functional as F

from .mkl_code_path import mkl_code_path
from .onednn_dtypes import ONEDNN_DTYPES, onednn_computes

#: the linear routes of :class:`~.fused_linear.FusedLinear`
ROUTES = ('auto', 'onednn', 'blas')
#: rows of the measured input: a batch of image tokens or 64 prompts
MEASURE_ROWS = 1024
MEASURE_REPS = 5
CACHE_FILE = 'kernel_routes.json'
#: environment variables capping the instruction sets of oneDNN, MKL and
#: fbgemm (``ATEN_CPU_CAPABILITY`` shows in ``get_cpu_capability()``)
ISA_LIMITS = ('ONEDNN_MAX_CPU_ISA', 'DNNL_MAX_CPU_ISA',
              'MKL_ENABLE_INSTRUCTIONS', 'FBGEMM_ENABLE_INSTRUCTIONS')
_memory_cache = {}


class Route(NamedTuple):
    """The route a layer family takes and why."""
    name: str  # 'onednn' or 'blas'
    reason: str


def cache_path() -> str:
    """The JSON file holding measured routes."""
    root = os.environ.get('MMCNCLIP_CACHE_DIR') or osp.join(
        os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache'),
        'mmcnclip')
    return osp.join(root, CACHE_FILE)


def cpu_name() -> str:
    """The CPU model name (``/proc/cpuinfo``), else the platform's."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def isa_limits() -> str:
    """The instruction-set caps set in the environment, e.g.
    ``'ONEDNN_MAX_CPU_ISA=AVX2'``; empty when none is set."""
    return ' '.join(f'{name}={os.environ[name]}' for name in ISA_LIMITS
                    if os.environ.get(name))


def machine_key() -> str:
    """This machine and PyTorch build, the prefix of every cache key."""
    capability = ' '.join(filter(None, (
        torch.backends.cpu.get_cpu_capability(), isa_limits())))
    return (f'{cpu_name()}|{capability}|MKL {mkl_code_path()}|'
            f'torch {torch.__version__}|{torch.get_num_threads()} threads')


def family_key(weight: torch.Tensor, act: Optional[str],
               rows: int = MEASURE_ROWS) -> str:
    """Cache key of a layer family on this machine and PyTorch build."""
    out_features, in_features = weight.shape
    return (f'{machine_key()}|{str(weight.dtype)[6:]} '
            f'{out_features}x{in_features} act={act} rows={rows}')


def _load(path: str) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _store(path: str, key: str, entry: dict) -> None:
    """Add ``entry`` to the cache file atomically; never raises on I/O."""
    try:
        os.makedirs(osp.dirname(path), exist_ok=True)
        data = _load(path)
        data[key] = entry
        fd, tmp = tempfile.mkstemp(dir=osp.dirname(path), suffix='.tmp')
        with os.fdopen(fd, 'w') as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


def _best_time(fn: Callable, reps: int) -> float:
    best = float('inf')
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure_linear_routes(weight: torch.Tensor,
                          bias: Optional[torch.Tensor],
                          act: Optional[str],
                          rows: int = MEASURE_ROWS,
                          reps: int = MEASURE_REPS) -> dict:
    """Best-of-``reps`` seconds of one linear (+activation) call per route,
    the routes interleaved call by call so that load from other processes
    hits both alike.

    Returns:
        dict: ``{'onednn': seconds, 'blas': seconds}``.
    """
    from .fused_linear import ACTIVATIONS
    post_op, algorithm, fallback = ACTIVATIONS[act]
    x = torch.randn(rows, weight.shape[1]).to(weight.dtype)

    def onednn():
        torch.ops.mkldnn._linear_pointwise(x, weight, bias, post_op, [],
                                           algorithm)

    def blas():
        y = F.linear(x, weight, bias)
        if fallback is not None:
            fallback(y)

    times = {'onednn': float('inf'), 'blas': float('inf')}
    with torch.inference_mode():
        onednn(), blas()  # warm-up: oneDNN builds its primitive once
        for _ in range(reps):
            times['onednn'] = min(times['onednn'], _best_time(onednn, 1))
            times['blas'] = min(times['blas'], _best_time(blas, 1))
    return times


def choose_linear_route(weight: torch.Tensor,
                        bias: Optional[torch.Tensor] = None,
                        act: Optional[str] = None,
                        route: str = 'auto') -> Route:
    """The route for a linear layer family: forced, cached or measured.

    Args:
        weight (torch.Tensor): The layer's weight (out, in); its dtype is
            the one measured.
        bias (torch.Tensor, optional): The layer's bias. Defaults to None.
        act (str, optional): Fused activation (``None``/``'silu'``/
            ``'gelu'``). Defaults to None.
        route (str): ``'auto'`` measures (once per machine and family),
            ``'onednn'``/``'blas'`` force a route. Defaults to 'auto'.

    Returns:
        Route: The chosen route and the reason.
    """
    from .fused_linear import onednn_linear_available
    if route not in ROUTES:
        raise ValueError(f'route must be one of {ROUTES}, got {route!r}')
    if route != 'auto':
        return Route(route, 'forced')
    if not onednn_linear_available():
        return Route('blas', 'PyTorch built without oneDNN')
    if weight.dtype not in ONEDNN_DTYPES or weight.device.type != 'cpu':
        return Route('blas', f'{weight.device.type} {weight.dtype}: oneDNN '
                     'route is CPU fp32/bf16 only')
    if not onednn_computes(weight.dtype):
        return Route('blas', f'oneDNN has no {str(weight.dtype)[6:]} kernels '
                     'on this CPU (bf16 needs AVX-512 or AVX-NE-CONVERT)')
    entry, source = cached_times(
        family_key(weight, act), ('onednn', 'blas'),
        lambda: measure_linear_routes(weight.detach(), bias if bias is None
                                      else bias.detach(), act))
    name = 'onednn' if entry['onednn'] < entry['blas'] else 'blas'
    return Route(name, f'{source}: oneDNN {entry["onednn"] * 1e3:.2f} ms vs '
                 f'BLAS {entry["blas"] * 1e3:.2f} ms at {MEASURE_ROWS} rows')


def cached_times(key: str, routes: tuple,
                 measure: Callable[[], dict]) -> tuple:
    """``({route: seconds}, source)`` for ``key``: from this process, from
    the cache file (``'cached'``), or from ``measure()`` (``'measured'``,
    then stored)."""
    path = cache_path()
    entry = _memory_cache.get(key) or _load(path).get(key)
    source = 'cached'
    if not (isinstance(entry, dict) and set(entry) >= set(routes)):
        entry, source = measure(), 'measured'
        _store(path, key, entry)
    _memory_cache[key] = entry
    return entry, source


#: queries of the measured attention: the image tokens of a ViT-B/16 batch
ATTENTION_BATCH, ATTENTION_LENGTH = 8, 197


def measure_attention_routes(dtype: torch.dtype, heads: int, head_dims: int,
                             reps: int = MEASURE_REPS) -> dict:
    """Best-of-``reps`` seconds of one attention call per route
    (``'sdpa'``: ``F.scaled_dot_product_attention``; ``'matmul'``: two
    batched products around the softmax), interleaved call by call.

    Returns:
        dict: ``{'sdpa': seconds, 'matmul': seconds}``.
    """
    from .transformer import attention
    q, k, v = (torch.randn(ATTENTION_BATCH, heads, ATTENTION_LENGTH,
                           head_dims).to(dtype) for _ in range(3))
    calls = {'sdpa': lambda: attention(q, k, v),
             'matmul': lambda: attention(q, k, v, matmul=True)}
    times = dict.fromkeys(calls, float('inf'))
    with torch.inference_mode():
        for _ in range(reps + 1):  # the first round warms up
            for name, call in calls.items():
                times[name] = min(times[name], _best_time(call, 1))
    return times


def choose_attention_route(dtype: torch.dtype, heads: int,
                           head_dims: int) -> Route:
    """``'matmul'`` or ``'sdpa'`` for CPU attention of this shape family,
    measured once per machine (cached like the linear routes)."""
    key = (f'{machine_key()}|attention {str(dtype)[6:]} heads={heads} '
           f'dims={head_dims} len={ATTENTION_LENGTH}')
    entry, source = cached_times(
        key, ('sdpa', 'matmul'),
        lambda: measure_attention_routes(dtype, heads, head_dims))
    name = 'matmul' if entry['matmul'] < entry['sdpa'] else 'sdpa'
    return Route(name, f'{source}: matmul {entry["matmul"] * 1e3:.2f} ms vs '
                 f'SDPA {entry["sdpa"] * 1e3:.2f} ms at {ATTENTION_BATCH}x'
                 f'{ATTENTION_LENGTH} queries')
