"""Int8Linear: oneDNN int8 linear (+ fused MLP activation) with per-channel
int8 weights and per-call uint8 activations; fp32 fallback elsewhere."""
import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from mmcnclip.models.layers.int8_linear import (Int8Linear,
                                                onednn_int8_linear_available,
                                                quantize_activation)

needs_onednn = pytest.mark.skipif(not onednn_int8_linear_available(),
                                  reason='no oneDNN int8 linear')
ACTS = {None: lambda t: t, 'silu': F.silu, 'gelu': F.gelu}


def _linear():
    torch.manual_seed(0)
    return torch.nn.Linear(64, 48)


def _rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


@needs_onednn
@pytest.mark.parametrize('act', list(ACTS))
def test_close_to_fp32_with_fused_activation(act):
    linear = _linear()
    layer = Int8Linear(linear, act)
    x = torch.randn(3, 5, 64)
    with torch.no_grad():
        ref = ACTS[act](linear(x))
        out = layer(x)
        assert out.shape == ref.shape and out.dtype == torch.float32
        assert _rel_err(out, ref) < 0.02
        # the int8 kernel and the dequantised fp32 fallback agree
        fallback = Int8Linear(linear, act)
        fallback.onednn = False
        assert _rel_err(out, fallback(x)) < 0.02


def test_weights_are_int8_per_output_channel():
    linear = _linear()
    with torch.no_grad():
        linear.weight[0] *= 100  # one large channel keeps its own scale
    layer = Int8Linear(linear)
    assert layer.weight.dtype == torch.int8
    assert layer.weight_scale.shape == (48, )
    dequantised = layer.weight.float() * layer.weight_scale[:, None]
    assert _rel_err(dequantised[1:], linear.weight[1:]) < 0.01


def test_activation_quantisation_covers_zero_and_rejects_nan():
    q, scale, zero_point = quantize_activation(torch.tensor([[1.0, 3.0]]))
    assert q.dtype == torch.uint8 and zero_point == 0
    assert abs(q[0, 1].item() * scale - 3.0) < scale
    assert quantize_activation(torch.tensor([[1.0, float('nan')]])) is None


@needs_onednn
def test_non_finite_input_falls_back_to_fp32():
    linear = _linear()
    layer = Int8Linear(linear)
    x = torch.randn(2, 64)
    x[0, 0] = float('inf')
    with torch.no_grad():
        out = layer(x)
    assert not torch.isfinite(out[0]).all() and torch.isfinite(out[1]).all()


def test_gradients_use_the_fp32_fallback():
    layer = Int8Linear(_linear())
    x = torch.randn(2, 64, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None


@needs_onednn
def test_copies_and_pickles_rebuild_the_packed_weights():
    layer = Int8Linear(_linear(), 'silu')
    x = torch.randn(4, 64)
    with torch.no_grad():
        expected = layer(x)
        for copied in (copy.deepcopy(layer),
                       pickle.loads(pickle.dumps(layer))):
            assert copied.packed.key is None
            torch.testing.assert_close(copied(x), expected)


@needs_onednn
def test_more_accurate_than_pytorch_dynamic_quantisation():
    """The reason for Int8Linear over ``quantize_dynamic``'s defaults
    (per-tensor weights, 7-bit activations on x86)."""
    import warnings
    torch.manual_seed(0)
    linear = torch.nn.Linear(256, 512)
    x = torch.randn(64, 256)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dynamic = torch.ao.quantization.quantize_dynamic(
            torch.nn.Sequential(copy.deepcopy(linear)), {torch.nn.Linear},
            dtype=torch.qint8)
    with torch.no_grad():
        ref = linear(x)
        ours, theirs = _rel_err(Int8Linear(linear)(x), ref), _rel_err(
            dynamic(x), ref)
    assert ours < 0.75 * theirs, (ours, theirs)


#: a process limited to AVX2 (no VNNI): oneDNN adds u8 x s8 products in
#: saturating int16 pairs there; prints (saturates, error with the weights
#: Int8Linear chose, error with 8-bit weights)
WITHOUT_VNNI = '''
import torch
from mmcnclip.models.layers import int8_linear as m
torch.manual_seed(0)
linear = torch.nn.Linear(768, 256)
x = torch.nn.functional.layer_norm(torch.randn(512, 768), (768, ))
with torch.no_grad():
    ref = linear(x)
    err = lambda y: ((y - ref).norm() / ref.norm()).item()
    layer = m.Int8Linear(linear)
    chosen = err(layer(x))
    layer.weight, layer.weight_scale = m.quantize_weight(linear.weight, 127)
    layer.packed = m.PackedWeight()
    print(m.int8_products_saturate(), layer.route.reason.startswith('7-bit'),
          chosen, err(layer(x)))
'''


@needs_onednn
@pytest.mark.skipif(not torch.backends.cpu.get_cpu_capability().startswith(
    'AVX'), reason='needs an x86 CPU with AVX2')
def test_seven_bit_weights_where_int8_products_saturate():
    """On CPUs without VNNI (emulated with ONEDNN_MAX_CPU_ISA=AVX2) 8-bit
    weights multiply the error several times; Int8Linear finds this out
    and keeps the error of a VNNI CPU."""
    import sys

    from helpers.processes import run
    out = run([sys.executable, '-c', WITHOUT_VNNI],
              env=dict(ONEDNN_MAX_CPU_ISA='AVX2')).stdout.split()
    saturates, says_so, chosen, eight_bits = out[-4:]
    assert saturates == says_so == 'True'
    assert float(chosen) < 0.02 and float(eight_bits) > 3 * float(chosen)


@needs_onednn
def test_saturation_probe_matches_the_weights_chosen():
    from mmcnclip.models.layers.int8_linear import int8_products_saturate
    layer = Int8Linear(_linear())
    levels = layer.weight.abs().amax().item()
    assert levels == (63 if int8_products_saturate() else 127)
