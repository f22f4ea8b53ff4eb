"""MKL's code path: named once per process without printing anything, and
part of the kernel-route cache key, so that routes measured where MKL runs
its Intel kernels are not reused where it runs its generic ones."""
import sys

import pytest
import torch

from helpers.mkl_intel_kernels import build, needs_shim
from helpers.processes import run
from mmcnclip.models.layers.mkl_code_path import mkl_code_path

#: prints the path and the kernel-route key, then a marker: anything else
#: on stdout leaked from MKL's verbose mode
PROBE = '''
from mmcnclip.models.layers.kernel_routes import machine_key
from mmcnclip.models.layers.mkl_code_path import mkl_code_path
print('path', repr(mkl_code_path()))
print('key', machine_key())
print('end')
'''


def _probe(env=None) -> dict:
    out = run([sys.executable, '-c', PROBE], env=env).stdout
    lines = out.splitlines()
    assert lines[-1] == 'end' and len(lines) == 3, out
    return dict(line.split(' ', 1) for line in lines[:2])


@pytest.mark.skipif(not torch.backends.mkl.is_available(),
                    reason='PyTorch built without MKL')
def test_names_the_path_without_printing_mkl_output():
    found = _probe()
    path = found['path'].strip("'")
    assert path and f'|MKL {path}|' in found['key']


def test_empty_where_mkl_refuses_verbose_mode(monkeypatch):
    class Refused:
        def __init__(self, level):
            pass

        def __enter__(self):
            raise AssertionError('Failed to set MKL into verbose mode.')

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(torch.backends.mkl, 'verbose', Refused)
    assert mkl_code_path.__wrapped__() == ''


def test_runs_with_stdout_closed():
    code = ('import os, sys; os.close(1); from mmcnclip.models.layers.'
            'mkl_code_path import mkl_code_path; '
            'sys.stderr.write(repr(mkl_code_path()))')
    out = run([sys.executable, '-c', code])
    assert out.stderr.rstrip().endswith("'"), out.stderr


@needs_shim
def test_intel_kernels_preloaded_key_their_own_routes(tmp_path):
    """As docs/performance.md builds and preloads the shim."""
    lib = build(tmp_path)
    plain, intel = _probe(), _probe(env=dict(LD_PRELOAD=lib))
    assert 'AVX-512' in intel['path']
    assert intel['key'] != plain['key']
    capped = _probe(env=dict(LD_PRELOAD=lib, MKL_ENABLE_INSTRUCTIONS='AVX2'))
    assert '(AVX2)' in capped['path']
