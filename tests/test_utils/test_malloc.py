"""keep_freed_buffers: a large CPU tensor allocated again reuses the freed
pages instead of faulting in fresh ones; prepare_for_inference applies it
on the CPU unless MMCNCLIP_MALLOC_TUNING=0. Process-wide settings, so each
case runs in its own process."""
import json
import sys

import pytest
from helpers.processes import run

from mmcnclip.utils.malloc import glibc

# Page faults of each of 8 allocations of 64 MiB in turn, after ``setup``
# (with the settings, glibc reaches its steady state after 2-3 rounds).
SCRIPT = '''
import json, resource, sys, torch
from mmcnclip.utils.malloc import keep_freed_buffers
{setup}
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds = []
for _ in range(8):
    before = faults()
    torch.empty(1 << 24).fill_(1.0)
    rounds.append(faults() - before)
print(json.dumps(dict(applied=applied, faults=rounds[4:])))
'''
SETUPS = {
    'untouched': 'applied = None',
    'keep_freed_buffers': 'applied = keep_freed_buffers()',
    'prepare_for_inference': '''
from mmcnclip.models.inference import prepare_for_inference
prepare_for_inference(torch.nn.Sequential(torch.nn.Linear(2, 2)))
applied = None''',
}
PAGES = (1 << 26) // 4096


def _faults(setup: str, env: dict = None) -> dict:
    out = run([sys.executable, '-c', SCRIPT.format(setup=SETUPS[setup])],
              env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


pytestmark = pytest.mark.skipif(glibc() is None, reason='needs glibc')


def test_untouched_glibc_faults_in_large_blocks_again():
    assert min(_faults('untouched')['faults']) > PAGES // 2


@pytest.mark.parametrize('setup', ['keep_freed_buffers',
                                   'prepare_for_inference'])
def test_freed_large_blocks_are_reused(setup):
    result = _faults(setup)
    assert result['applied'] in (True, None)
    assert sum(result['faults']) < PAGES // 10, result


def test_environment_variable_turns_it_off():
    result = _faults('keep_freed_buffers', env={'MMCNCLIP_MALLOC_TUNING': '0'})
    assert result['applied'] is False
    assert min(result['faults']) > PAGES // 2
