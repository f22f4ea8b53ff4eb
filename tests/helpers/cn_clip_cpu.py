"""Run an official ``cn_clip`` script unmodified on CPU (test suite only).

    python tests/helpers/cn_clip_cpu.py cn_clip.eval.extract_features ...

The official scripts hard-code one GPU: ``torch.cuda.set_device(0)``,
``model.cuda(0)``, ``tensor.cuda(0)``, ``tensor.to(0)`` and, in training,
an NCCL process group and ``DistributedDataParallel(device_ids=[0])``. This
shim turns exactly those into their CPU equivalents before it runs the
module as ``__main__`` (``runpy``): the CUDA moves become no-ops, NCCL
becomes gloo and DDP gets no device ids. Nothing else changes; the shim is
never imported by mmcnclip.
"""
import runpy
import sys

import torch


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


if __name__ == '__main__':
    module = sys.argv[1]
    sys.argv = [module] + sys.argv[2:]
    patch_torch()
    runpy.run_module(module, run_name='__main__', alter_sys=True)
