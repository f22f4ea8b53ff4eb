"""glibc malloc settings that keep large CPU buffers between batches.

PyTorch allocates CPU tensors with ``malloc``. glibc serves a block above
its mmap threshold (which it raises by itself to at most 32 MiB) with
fresh ``mmap`` pages and unmaps them when the block is freed, so every
batch pays a page fault for every page of every large activation: the
feature maps of a batch-16 RN50 are 51 MiB each, and a layer1 1x1
convolution writing one runs 4x slower on fresh pages than on reused ones
(measured on the 2-core AVX-512 AMD EPYC of docs/performance.md; the
prepared RN50 tower as a whole ran 1.11x faster with the settings below,
the official model 1.41x).

:func:`keep_freed_buffers` raises both the mmap threshold and the trim
threshold (``mallopt``, process-wide), so freed activations stay in the
process for the next batch, as PyTorch's CUDA caching allocator keeps GPU
memory. :func:`~mmcnclip.models.inference.prepare_for_inference` calls it
for CPU models; ``MMCNCLIP_MALLOC_TUNING=0`` in the environment turns it
off (the process then returns freed blocks to the OS as before).
"""
import ctypes
import functools
import os
from typing import Optional

#: environment variable: '0' leaves glibc's settings alone
ENV = 'MMCNCLIP_MALLOC_TUNING'
#: blocks up to this size come from the heap, and this much freed memory
#: may stay at its top
KEEP_BYTES = 1 << 30
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # <malloc.h>


@functools.lru_cache(maxsize=None)
def glibc() -> Optional[ctypes.CDLL]:
    """The process's C library when it is glibc, else None."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    needed = ('mallopt', 'malloc_trim', 'gnu_get_libc_version')
    return libc if all(hasattr(libc, f) for f in needed) else None


def keep_freed_buffers(limit: int = KEEP_BYTES) -> bool:
    """Let glibc serve blocks up to ``limit`` bytes from its heap and keep
    up to ``limit`` bytes of freed memory, instead of mapping and
    unmapping large blocks at every allocation (process-wide).

    Returns:
        bool: Whether the settings were applied (False without glibc or
        with ``MMCNCLIP_MALLOC_TUNING=0``).
    """
    libc = glibc()
    if os.environ.get(ENV, '1') == '0' or libc is None:
        return False
    return all(libc.mallopt(option, ctypes.c_int(limit)) == 1
               for option in (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD))


def trim() -> None:
    """Give the heap's freed memory back to the OS (glibc only)."""
    libc = glibc()
    if libc is not None:
        libc.malloc_trim(0)
