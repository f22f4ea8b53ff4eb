"""Which code path PyTorch's BLAS (MKL) runs on this CPU.

MKL chooses its kernels by CPU vendor as well as by instruction set: on an
Intel CPU with AVX-512 it runs its AVX-512 kernels, on an AMD CPU with the
same instructions a generic path at about half the fp32 GEMM rate. That
difference decides whether oneDNN's or MKL's linear is faster, so the
kernel-route cache keys on it and the benchmark prints it. MKL names its
path in the header of its verbose output, which is the only place it says.
"""
import ctypes
import functools
import os
import re
import sys
import tempfile
import threading

import torch

#: MKL's verbose header names the path after the architecture, e.g.
#: ``... for Intel(R) 64 architecture Intel(R) Advanced Vector Extensions 2
#: (Intel(R) AVX2) enabled processors, Lnx 2.60GHz lp64 gnu_thread``
_HEADER = re.compile(r'64 architecture (.+?), (?:Lnx|Win|Mac|Android) ')
#: one thread at a time swaps file descriptor 1
_STDOUT_LOCK = threading.Lock()


def _stdout_of(fn) -> str:
    """What ``fn`` writes to file descriptor 1, the C library's stdout
    (MKL's verbose output goes there, not through Python)."""
    if sys.stdout is not None:
        sys.stdout.flush()
    libc = ctypes.CDLL(None)
    with _STDOUT_LOCK, tempfile.TemporaryFile() as captured:
        libc.fflush(None)  # what C code wrote before stays on stdout
        saved = os.dup(1)
        try:
            os.dup2(captured.fileno(), 1)
            fn()
            libc.fflush(None)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        captured.seek(0)
        return captured.read().decode(errors='replace')


def _small_sgemm() -> None:
    x = torch.ones(8, 8)
    with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
        x @ x


@functools.lru_cache(maxsize=None)
def mkl_code_path() -> str:
    """MKL's name for the kernels it runs here, without the ``Intel(R)``
    marks, e.g. ``'Advanced Vector Extensions 2 (AVX2) enabled
    processors'``, or ``'Architecture processors'`` for its generic path.

    Found once per process from the header MKL prints with its first
    verbose call; file descriptor 1 goes to a temporary file for that
    call. Empty where PyTorch has no MKL or MKL no verbose mode, where
    MKL's header was already printed or sent elsewhere
    (``MKL_VERBOSE_OUTPUT_FILE``), or where a temporary file cannot be
    had.
    """
    if not torch.backends.mkl.is_available():
        return ''
    try:
        output = _stdout_of(_small_sgemm)
    except (OSError, AssertionError):  # torch raises the latter when MKL
        return ''                      # refuses verbose mode
    match = _HEADER.search(output)
    return match.group(1).replace('Intel(R) ', '') if match else ''
