"""Run an official ``cn_clip`` script unmodified on the CPU.

    python tools/official_cpu_shim.py cn_clip.eval.extract_features ...

The official scripts hard-code one GPU: ``torch.cuda.set_device(0)``,
``model.cuda(0)``, ``tensor.cuda(0)``, ``tensor.to(0)`` and, in training,
an NCCL process group and ``DistributedDataParallel(device_ids=[0])``. In
this process only, the shim turns exactly those into their CPU equivalents
before it runs the module as ``__main__`` (``runpy``): the CUDA moves become
no-ops, NCCL becomes gloo and DDP gets no device ids. Nothing else changes.
It is used by the oracle tests (``tests/helpers/official_scripts.py``) and
the end-to-end benchmark, never imported by mmcnclip.

With ``$OFFICIAL_LOOP_TIMES`` set, every ``tqdm`` loop of the script also
records when each item was done, written as JSON to that file at exit (the
benchmark's timings of the official script).
"""
import atexit
import json
import os
import runpy
import sys
import time

import torch
import tqdm

#: ``tqdm`` loops of the script: start time and ``(done time, items)``.
LOOPS = []


def _is_cuda(device) -> bool:
    """A device index or a CUDA device (what the scripts pass)."""
    if isinstance(device, bool):
        return False
    if isinstance(device, int):
        return True
    return isinstance(device, (str, torch.device)) and \
        str(device).startswith('cuda')


def _cpu_to(original):
    """``Tensor.to`` / ``Module.to`` without CUDA device arguments."""

    def to(self, *args, **kwargs):
        args = tuple(a for a in args if not _is_cuda(a))
        if _is_cuda(kwargs.get('device')):
            kwargs.pop('device')
        kwargs.pop('non_blocking', None)
        return original(self, *args, **kwargs) if args or kwargs else self

    return to


def _ddp_without_devices(original):

    def init(self, module, *args, **kwargs):
        kwargs.pop('device_ids', None)
        kwargs.pop('output_device', None)
        original(self, module, *args, **kwargs)

    return init


def _gloo(original):

    def init_process_group(*args, **kwargs):
        kwargs['backend'] = 'gloo'
        return original(**kwargs)

    return init_process_group


def patch_torch() -> None:
    """Apply the CPU replacements described in the module docstring."""
    torch.cuda.set_device = lambda *args, **kwargs: None
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self
    torch.Tensor.to = _cpu_to(torch.Tensor.to)
    torch.nn.Module.to = _cpu_to(torch.nn.Module.to)
    torch.distributed.init_process_group = _gloo(
        torch.distributed.init_process_group)
    ddp = torch.nn.parallel.DistributedDataParallel
    ddp.__init__ = _ddp_without_devices(ddp.__init__)


class TimedTqdm(tqdm.tqdm):
    """tqdm recording ``(done time, items)`` per iteration of each loop."""

    def __iter__(self):
        loop = dict(start=time.perf_counter(), items=[])
        LOOPS.append(loop)
        for item in super().__iter__():
            yield item
            size = len(item[0]) if isinstance(item, (tuple, list)) else 1
            loop['items'].append((time.perf_counter(), size))


def _dump(path: str) -> None:
    with open(path, 'w') as f:
        json.dump(LOOPS, f)


def main() -> None:
    module = sys.argv[1]
    sys.argv = [module] + sys.argv[2:]
    patch_torch()
    times = os.environ.get('OFFICIAL_LOOP_TIMES')
    if times:
        tqdm.tqdm = TimedTqdm
        atexit.register(_dump, times)
    runpy.run_module(module, run_name='__main__', alter_sys=True)


if __name__ == '__main__':
    main()
