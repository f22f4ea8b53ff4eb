"""Benchmark library (mmcnclip.benchmarking) and tools/benchmark.py at the
smallest settings: the modes run and return consistent data; no timing
checks."""
import math
import os

import pytest
import torch

from helpers.mkl_intel_kernels import build, needs_shim
from helpers.processes import run_tool
from mmcnclip.benchmarking import format_table, gemm_peak
from mmcnclip.benchmarking.contention import cpu_burners
from mmcnclip.benchmarking.towers import bench_image, bench_text

IMPLS = {'official', 'mmcnclip', 'mmcnclip+prepare'}


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _check_rows(rows, names):
    by_name = {r['impl']: r for r in rows}
    assert names <= set(by_name), by_name
    assert by_name['official']['x_official'] == 1.0
    assert all(r['best'] > 0 and r['gflops'] > 0 for r in rows)
    return by_name


def test_gemm_peak_routes():
    peaks = gemm_peak('cpu', torch.float32, n=64, reps=1, per_route=True)
    assert 'blas' in peaks and all(v > 0 for v in peaks.values())
    assert gemm_peak('cpu', torch.float32, n=64, reps=1) > 0


def test_image_tower_fp32_and_int8():
    res = bench_image('RN50', batch=1, rounds=1, peak=100., int8=True)
    assert all(err < 1e-5 for err in res['diffs'].values()), res['diffs']
    rows = _check_rows(res['rows'], IMPLS | {'mmcnclip+prepare int8',
                                             'mmcnclip+prepare fp32'})
    assert rows['mmcnclip']['lat_ms'] > 0
    assert 0.9 < res['int8_cosine'] <= 1.0 + 1e-6
    # RN50's attention pool: one family per linear shape, with a reason.
    assert res['routes'] and all(route in ('onednn', 'blas') and reason
                                 for route, reason, _ in
                                 res['routes'].values())


def test_image_tower_bf16_keeps_an_fp32_reference():
    res = bench_image('RN50', batch=1, rounds=1, peak=100.,
                      dtype=torch.bfloat16)
    _check_rows(res['rows'], IMPLS | {'mmcnclip+prepare fp32'})


def test_text_tower():
    res = bench_text('RN50', prompts=8, batch=4, rounds=1, peak=100.)
    assert res['count'] == 8 and res['pad_diff'] < 1e-5
    rows = _check_rows(res['rows'], {'official', 'mmcnclip pad52',
                                     'mmcnclip pad-longest',
                                     'mmcnclip sorted+longest'})
    assert rows['official']['lat_ms'] is None


def test_format_table():
    text = format_table([dict(impl='a', x=1.5), dict(impl='bb')],
                        [('impl', 'impl', '<4'), ('x', 'x', '6.2f')])
    assert text.splitlines() == ['impl      x', 'a      1.50',
                                 'bb        -']


def test_load_test(tmp_path):
    from mmcnclip.benchmarking.load import LOAD_MODES, load_test
    res = load_test('RN50', half=True, tmpdir=str(tmp_path))
    assert res['weights_bytes'] > 0
    for mode in LOAD_MODES:
        assert res[mode]['hwm'] >= res[mode]['rss0'] > 0
        assert res[mode]['seconds'] > 0
    assert not list(tmp_path.iterdir())  # the checkpoint is deleted


def test_end_to_end_with_the_official_script(tmp_path):
    from mmcnclip.benchmarking.e2e import bench_e2e
    res = bench_e2e('RN50', images=4, batch=2, workers=0, rounds=1,
                    classes=2, formats=('cifar', ), workdir=str(tmp_path))
    rows = {r['impl']: r for r in res['rows']}
    assert set(rows) == {'cifar: prepared fp32', 'cifar: unprepared',
                         'cifar: official'}
    assert rows['cifar: official']['x_official'] == 1.0
    # Same images, checkpoint and prototypes: the same predictions.
    assert all(r['agree'] == 1.0 for r in rows.values()), rows
    assert len({r['top1'] for r in rows.values()}) == 1, rows
    assert all(r['best'] > 0 and not math.isnan(r['best'])
               for r in rows.values())
    assert res['tower']['prepared'] > 0 and res['templates'] == 183
    assert any('from the cache file' in k for k in res['one_off'])
    assert not list(tmp_path.iterdir())


def test_tool_prints_tables():
    out = run_tool('benchmark.py', '--model', 'RN50', '--tower', 'text',
                   '--iters', '1', '--threads', '1', '--text-prompts', '8',
                   '--text-batch', '4', '--contention', '1',
                   with_stderr=False)
    assert 'contention: 1 CPU-bound processes running' in out
    assert 'GEMM peak fp32' in out and 'linear kernel routes' in out
    assert 'x official' in out and 'mmcnclip sorted+longest' in out


@needs_shim
def test_tool_with_mkl_intel_kernels_preloaded(tmp_path):
    """As docs/performance.md runs it where MKL runs its Intel kernels:
    the header names MKL's path and the routes are measured for it."""
    out = run_tool('benchmark.py', '--model', 'RN50', '--tower', 'text',
                   '--iters', '1', '--threads', '1', '--text-prompts', '8',
                   '--text-batch', '4', with_stderr=False,
                   env=dict(LD_PRELOAD=build(tmp_path),
                            MMCNCLIP_CACHE_DIR=str(tmp_path)))
    assert 'MKL path: Advanced Vector Extensions 512 (AVX-512)' in out
    assert 'float32 2048x2048 - x3: ' in out and '(measured: ' in out


def test_cpu_burners_run_and_stop():
    with cpu_burners(2) as pids:
        assert len(pids) == 2
        for pid in pids:
            os.kill(pid, 0)  # alive
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_op_families():
    from mmcnclip.benchmarking.profile import family_of, op_shares
    assert family_of('aten::_slow_conv2d_forward') == 'convolution'
    assert family_of('mkldnn::_linear_pointwise') == 'linear / matmul'
    assert family_of('quantized::linear_dynamic') == 'linear / matmul'
    assert family_of('aten::native_batch_norm') == 'normalisation'
    assert family_of('aten::view') == 'other'
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    shares = op_shares(model, torch.randn(1, 3, 16, 16), rounds=1)
    assert math.isclose(sum(shares.values()), 1.0)
    assert 'convolution' in shares and 'elementwise' in shares


def test_tool_profile_mode():
    out = run_tool('benchmark.py', '--model', 'RN50', '--profile', '--int8',
                   '--batch', '1', '--threads', '1', with_stderr=False)
    assert 'share of self CPU time per operator family' in out
    assert 'mmcnclip+prepare int8' in out and 'convolution' in out


def test_int8_kernel_rows_per_linear_family():
    from mmcnclip.benchmarking.int8_kernels import int8_kernel_rows
    from mmcnclip.models.layers.fused_linear import FusedLinear
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        FusedLinear(torch.nn.Linear(16, 32), 'gelu'),
        FusedLinear(torch.nn.Linear(32, 16)),
        FusedLinear(torch.nn.Linear(32, 16)))
    rows = {r['family']: r for r in int8_kernel_rows(model, rows=8,
                                                     rounds=1)}
    assert {f: r['count'] for f, r in rows.items()} == {
        'float32 32x16 gelu': 1, 'float32 16x32 -': 2}
    for row in rows.values():
        assert all(row[f'{k}_ms'] > 0 for k in ('fp32', 'onednn', 'fbgemm'))
        assert 0 < row['onednn_err'] < 0.05 and 0 < row['fbgemm_err'] < 0.1


def test_tool_int8_kernels_mode_on_capped_instruction_sets():
    """As docs/performance.md runs it for an AVX2 CPU's kernels."""
    out = run_tool('benchmark.py', '--model', 'RN50', '--int8-kernels',
                   '--iters', '1', '--threads', '1', with_stderr=False,
                   env=dict(ONEDNN_MAX_CPU_ISA='AVX2',
                            FBGEMM_ENABLE_INSTRUCTIONS='AVX2'))
    assert ('(capped: ONEDNN_MAX_CPU_ISA=AVX2 FBGEMM_ENABLE_INSTRUCTIONS='
            'AVX2)') in out
    assert 'int8 linear kernels per layer family' in out
    assert 'float32 2048x2048 -' in out and 'all (layer-weighted)' in out
