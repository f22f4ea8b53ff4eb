"""``python demo/quickstart.py``, the README's first command after install,
run as the user runs it (subprocess): reduced size by default, full size
in the slow run."""
import os.path as osp
import re
import sys

import pytest
from helpers.processes import REPO, run

SCRIPT = osp.join(REPO, 'demo', 'quickstart.py')


def quickstart(work, *args) -> dict:
    out = run([sys.executable, SCRIPT, '--work-dir', str(work), *args],
              threads=2).stdout
    values = dict(re.findall(r'\| (top-1|R@\d+) \| ([0-9.]+) \|', out))
    assert 'top-1' in values, out[-3000:]
    assert (work / 'pictures' / 'zero_shot').is_dir(), out[-3000:]
    for name in ('train', 'zero_shot', 'retrieval', 'data'):
        assert (work / 'logs' / f'{name}.log').is_file(), name
    ckpt = re.search(r'checkpoint: (\S+)', out).group(1)
    assert osp.isfile(ckpt)
    return {k: float(v) for k, v in values.items()}, out


def test_quickstart_reduced(tmp_path):
    results, out = quickstart(tmp_path, '--train', '64', '--test', '12',
                              '--iters', '4', '--batch-size', '16')
    assert 'R@10' in results and '| 8.3 |' in out  # chance for 12 classes
    assert len(list((tmp_path / 'pictures' / 'zero_shot').glob('*.png'))) \
        == 12


@pytest.mark.slow
def test_quickstart_full_size(tmp_path):
    results, _ = quickstart(tmp_path)
    assert results['top-1'] >= 90, results
