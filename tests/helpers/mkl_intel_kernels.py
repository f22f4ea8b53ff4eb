"""Builds ``tools/misc/mkl_intel_kernels.c`` as docs/performance.md does, for
tests that run MKL's Intel kernels on another vendor's AVX-512 CPU."""
import os.path as osp
import shutil

import pytest
import torch

from helpers.processes import REPO, run

SOURCE = osp.join(REPO, 'tools', 'misc', 'mkl_intel_kernels.c')


def _other_vendors_avx512() -> bool:
    """An AVX-512 CPU not made by Intel (where MKL runs its Intel kernels
    anyway)."""
    try:
        with open('/proc/cpuinfo') as f:
            info = f.read()
    except OSError:
        return False
    return ' avx512f ' in info and 'GenuineIntel' not in info


#: skips a test where the shim cannot be built or changes nothing
needs_shim = pytest.mark.skipif(
    not (torch.backends.mkl.is_available() and shutil.which('cc')
         and _other_vendors_avx512()),
    reason='needs MKL, a C compiler and a non-Intel AVX-512 CPU')


def build(directory) -> str:
    """``cc -shared -fPIC -o DIR/libmkl_intel_kernels.so SOURCE``; the
    library's path, for ``LD_PRELOAD``."""
    lib = osp.join(str(directory), 'libmkl_intel_kernels.so')
    run(['cc', '-shared', '-fPIC', '-o', lib, SOURCE])
    return lib
