"""Peak memory of a code block, on CPU (VmHWM) or CUDA (allocator peak)."""
import torch

from mmcnclip.utils.malloc import trim


def proc_status_kb(field: str) -> int:
    """A ``/proc/self/status`` field (e.g. ``'VmRSS'``) in KiB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


class PeakMemory:
    """Peak memory of a code block: CUDA allocator peak, or on CPU the rise
    of VmHWM (peak resident set) after resetting it via
    ``/proc/self/clear_refs``; in MiB (:attr:`mib`)."""

    def __init__(self, device: str):
        self.device = device
        self.mib = float('nan')

    def __enter__(self):
        if self.device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            trim()  # an RSS rise then measures what the block allocates
            try:
                with open('/proc/self/clear_refs', 'w') as f:
                    f.write('5')  # reset VmHWM to the current RSS
            except OSError:
                pass
            self.base = proc_status_kb('VmRSS') * 1024
        return self

    def __exit__(self, *exc):
        if self.device == 'cuda':
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            peak = proc_status_kb('VmHWM') * 1024
        self.mib = (peak - self.base) / 2**20


def peak_memory(candidates: dict, device: str) -> dict:
    """``{name: MiB}``: the peak memory of one call of each candidate."""
    out = {}
    with torch.inference_mode():
        for name, fn in candidates.items():
            with PeakMemory(device) as mem:
                fn()
            out[name] = mem.mib
    return out
