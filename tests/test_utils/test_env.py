"""``import mmcnclip`` is quiet with mmcv-lite (the intended install)."""
import sys

from helpers.processes import run


def test_import_has_no_mmcv_lite_warning():
    out = run([sys.executable, '-W', 'default', '-c',
               'import mmcnclip, mmpretrain.models; print("imported")'])
    assert 'imported' in out.stdout
    assert 'MultiScaleDeformableAttention' not in out.stderr, out.stderr
