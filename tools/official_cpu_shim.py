"""Run an official ``cn_clip`` script on the CPU, timing its loops.

The official evaluation scripts call ``torch.cuda.set_device``,
``model.cuda(gpu)`` and ``tensor.to(gpu)`` unconditionally. Inside this
process only, those become no-ops (the benchmark side, never the package),
and every ``tqdm`` loop of the script records when each item was done, written
as JSON to ``$OFFICIAL_LOOP_TIMES`` at exit.

Example::

    OFFICIAL_LOOP_TIMES=t.json python tools/official_cpu_shim.py \\
        cn_clip.eval.zeroshot_evaluation --datapath DIR/test ...
"""
import atexit
import json
import os
import runpy
import sys
import time

import torch
import tqdm

LOOPS = []


def _is_gpu(device) -> bool:
    return isinstance(device, int) or (
        isinstance(device, (str, torch.device))
        and str(device).startswith('cuda'))


def cpu_only() -> None:
    """Turn this process's CUDA placement calls into no-ops."""
    tensor_to = torch.Tensor.to

    def to(self, *args, **kwargs):
        if args and _is_gpu(args[0]) and len(args) == 1 and not kwargs:
            return self
        return tensor_to(self, *args, **kwargs)

    torch.cuda.set_device = lambda *args, **kwargs: None
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.Tensor.to = to


class TimedTqdm(tqdm.tqdm):
    """tqdm recording ``(done time, items)`` per iteration of each loop."""

    def __iter__(self):
        loop = dict(start=time.perf_counter(), items=[])
        LOOPS.append(loop)
        for item in super().__iter__():
            yield item
            size = len(item[0]) if isinstance(item, (tuple, list)) else 1
            loop['items'].append((time.perf_counter(), size))


def _dump() -> None:
    path = os.environ.get('OFFICIAL_LOOP_TIMES')
    if path:
        with open(path, 'w') as f:
            json.dump(LOOPS, f)


def main() -> None:
    module = sys.argv[1]
    sys.argv = [module] + sys.argv[2:]
    cpu_only()
    tqdm.tqdm = TimedTqdm
    atexit.register(_dump)
    runpy.run_module(module, run_name='__main__', alter_sys=True)


if __name__ == '__main__':
    main()
