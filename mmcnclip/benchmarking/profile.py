"""Where an image tower spends its time: self CPU time per operator."""
from collections import defaultdict

import torch

#: Operator families reported by :func:`op_shares`, first match wins: an
#: operator belongs to a family when its name (namespace dropped) equals
#: one of the parts or contains one longer than three letters.
FAMILIES = {
    'convolution': ('convolution', 'conv2d'),
    'linear / matmul': ('linear', 'addmm', 'mm', 'bmm', 'matmul'),
    'attention': ('scaled_dot_product', 'flash_attention'),
    'normalisation': ('layer_norm', 'batch_norm'),
    'pooling': ('pool', ),
    'elementwise': ('add', 'mul', 'div', 'sub', 'relu', 'gelu', 'sigmoid',
                    'clamp', 'copy'),
}


def family_of(op: str) -> str:
    """The :data:`FAMILIES` key of operator name ``op`` (``other``)."""
    name = op.split('::')[-1].strip('_')
    for family, parts in FAMILIES.items():
        if name in parts or any(p in name for p in parts if len(p) > 3):
            return family
    return 'other'


def op_shares(fn, x: torch.Tensor, rounds: int = 2) -> dict:
    """Fractions of self CPU time of ``fn(x)`` per operator family.

    One untimed warm-up call, then ``rounds`` calls under
    ``torch.profiler``; the self times of all operators are summed per
    :data:`FAMILIES` entry.

    Args:
        fn (callable): The forward to profile (e.g. ``model.encode_image``).
        x (Tensor): Its input.
        rounds (int): Profiled calls.

    Returns:
        dict: ``{family: fraction}`` summing to 1, largest first.
    """
    from torch.profiler import ProfilerActivity, profile
    with torch.inference_mode():
        fn(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(rounds):
                fn(x)
    totals = defaultdict(float)
    for event in prof.key_averages():
        if event.key.startswith('aten::') or '::' in event.key:
            totals[family_of(event.key)] += event.self_cpu_time_total
    total = sum(totals.values()) or 1.0
    return dict(sorted(((k, v / total) for k, v in totals.items()),
                       key=lambda kv: -kv[1]))
