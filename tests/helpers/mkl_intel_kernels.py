"""Builds ``tools/misc/mkl_intel_kernels.c`` as docs/performance.md does, for
tests that run MKL's Intel kernels on any AVX-512 x86 CPU."""
import os.path as osp
import shutil

import pytest
import torch

from helpers.processes import REPO, run

SOURCE = osp.join(REPO, 'tools', 'misc', 'mkl_intel_kernels.c')


def _avx512() -> bool:
    try:
        with open('/proc/cpuinfo') as f:
            return ' avx512f ' in f.read()
    except OSError:
        return False


#: skips a test where the shim cannot be built or changes nothing
needs_shim = pytest.mark.skipif(
    not (torch.backends.mkl.is_available() and shutil.which('cc')
         and _avx512()),
    reason='needs MKL, a C compiler and an AVX-512 CPU')


def build(directory) -> str:
    """``cc -shared -fPIC -o DIR/libmkl_intel_kernels.so SOURCE``; the
    library's path, for ``LD_PRELOAD``."""
    lib = osp.join(str(directory), 'libmkl_intel_kernels.so')
    run(['cc', '-shared', '-fPIC', '-o', lib, SOURCE])
    return lib
