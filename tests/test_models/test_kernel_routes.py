"""Kernel routes are measured per layer family, cached, and never fatal."""
import json
import os

import pytest
import torch
from test_inference import VIT, build

from mmcnclip.models.inference import is_prepared, prepare_for_inference
from mmcnclip.models.layers import kernel_routes
from mmcnclip.models.layers.fused_linear import (FusedLinear,
                                                 describe_linear_routes,
                                                 linear_routes,
                                                 onednn_linear_available)

needs_onednn = pytest.mark.skipif(not onednn_linear_available(),
                                  reason='PyTorch built without oneDNN')


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv('MMCNCLIP_CACHE_DIR', str(tmp_path))
    monkeypatch.setattr(kernel_routes, '_memory_cache', {})
    return tmp_path


@needs_onednn
def test_measures_once_then_reads_the_cache(cache_dir, monkeypatch):
    weight = torch.randn(40, 24)
    route = kernel_routes.choose_linear_route(weight, None, 'silu')
    assert route.name in ('onednn', 'blas')
    assert route.reason.startswith('measured: oneDNN')
    with open(cache_dir / kernel_routes.CACHE_FILE) as f:
        entry = json.load(f)[kernel_routes.family_key(weight, 'silu')]
    assert set(entry) == {'onednn', 'blas'}
    assert route.name == min(entry, key=entry.get)
    # A new process (empty memory cache) reads the file, measures nothing.
    monkeypatch.setattr(kernel_routes, '_memory_cache', {})
    monkeypatch.setattr(kernel_routes, 'measure_linear_routes',
                        lambda *a, **k: pytest.fail('measured again'))
    again = kernel_routes.choose_linear_route(weight, None, 'silu')
    assert again.name == route.name and again.reason.startswith('cached')
    assert not [p for p in os.listdir(cache_dir) if p.endswith('.tmp')]


@needs_onednn
def test_unwritable_or_corrupt_cache_is_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel_routes, '_memory_cache', {})
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    monkeypatch.setenv('MMCNCLIP_CACHE_DIR', str(blocker / 'sub'))
    assert kernel_routes.choose_linear_route(torch.randn(8, 8)).name in (
        'onednn', 'blas')
    corrupt = tmp_path / 'corrupt'
    corrupt.mkdir()
    (corrupt / kernel_routes.CACHE_FILE).write_text('{not json')
    monkeypatch.setenv('MMCNCLIP_CACHE_DIR', str(corrupt))
    monkeypatch.setattr(kernel_routes, '_memory_cache', {})
    kernel_routes.choose_linear_route(torch.randn(8, 8))
    with open(corrupt / kernel_routes.CACHE_FILE) as f:
        assert len(json.load(f)) == 1  # rewritten whole


def test_forced_routes_and_errors():
    weight = torch.randn(8, 8)
    assert kernel_routes.choose_linear_route(weight, route='blas') == \
        kernel_routes.Route('blas', 'forced')
    with pytest.raises(ValueError, match='route must be one of'):
        kernel_routes.choose_linear_route(weight, route='mkl')
    half = kernel_routes.choose_linear_route(weight.half())
    assert half.name == 'blas' and 'CPU fp32/bf16 only' in half.reason


@pytest.mark.parametrize('route', ['onednn', 'blas', 'auto'])
def test_prepared_model_follows_its_routes(route, cache_dir):
    if route != 'blas' and not onednn_linear_available():
        pytest.skip('PyTorch built without oneDNN')
    model = build(VIT)
    x = torch.rand(2, 3, 32, 32)
    with torch.inference_mode():
        ref = model.encode_image(x)
        prepare_for_inference(model, linear_route=route)
        out = model.encode_image(x)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    assert is_prepared(model)
    routes = linear_routes(model)
    layers = [m for m in model.modules() if isinstance(m, FusedLinear)]
    assert sum(count for _, _, count in routes.values()) == len(layers)
    if route != 'auto':
        assert {r for r, _, _ in routes.values()} == {route}
    assert all(f'{family} x' in describe_linear_routes(model)
               for family in routes)


def test_instruction_set_caps_key_their_own_routes(monkeypatch):
    """Routes measured under ``ONEDNN_MAX_CPU_ISA=AVX2`` (or another cap)
    are not reused without it, nor the other way round."""
    for name in kernel_routes.ISA_LIMITS:
        monkeypatch.delenv(name, raising=False)
    uncapped = kernel_routes.machine_key()
    assert kernel_routes.isa_limits() == ''
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', 'AVX2')
    monkeypatch.setenv('MKL_ENABLE_INSTRUCTIONS', 'AVX2')
    assert kernel_routes.isa_limits() == \
        'ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2'
    capped = kernel_routes.machine_key()
    assert capped != uncapped and 'ONEDNN_MAX_CPU_ISA=AVX2' in capped
    assert kernel_routes.family_key(torch.randn(4, 4), None).startswith(
        capped)
