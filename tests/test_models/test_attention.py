"""attention(): SDPA, or (the matmul route, CPU without gradients) two
batched products around an fp32 softmax; both agree with fp32 attention.
bf16 CPU models get the faster route measured per family."""
import pytest
import torch
import torch.nn.functional as F
from test_inference import VIT, build

from mmcnclip.models.inference import prepare_for_inference
from mmcnclip.models.layers import kernel_routes
from mmcnclip.models.layers.fused_linear import linear_routes
from mmcnclip.models.layers.transformer import SelfAttention, attention


def _qkv(dtype):
    torch.manual_seed(0)
    return [torch.randn(2, 3, 7, 16).to(dtype) for _ in range(3)]


@pytest.mark.parametrize('masked', [False, True])
def test_bf16_cpu_attention_matches_fp32(masked):
    q, k, v = _qkv(torch.bfloat16)
    mask = None
    if masked:  # keys 5 and 6 of the second sample are padding
        mask = torch.ones(2, 1, 1, 7, dtype=torch.bool)
        mask[1, ..., 5:] = False
    ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(),
                                         attn_mask=mask)
    with torch.no_grad():
        out = attention(q, k, v, mask, matmul=True)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, atol=3e-2, rtol=3e-2)


def test_matmul_route_matches_sdpa_in_fp32_and_leaves_gradients_to_it():
    q, k, v = _qkv(torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(attention(q, k, v, matmul=True),
                                   F.scaled_dot_product_attention(q, k, v))
    q.requires_grad_()
    attention(q, k, v, matmul=True).sum().backward()
    assert q.grad is not None


def test_self_attention_keeps_dropout_in_training():
    layer = SelfAttention(16, 2, attn_drop=0.5).train()
    x = torch.randn(2, 5, 16)
    torch.manual_seed(0)
    a = layer(x)
    torch.manual_seed(1)
    assert not torch.allclose(a, layer(x))
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))


def test_bf16_prepared_model_measures_its_attention_route(tmp_path,
                                                          monkeypatch):
    monkeypatch.setenv('MMCNCLIP_CACHE_DIR', str(tmp_path))
    monkeypatch.setattr(kernel_routes, '_memory_cache', {})
    model = prepare_for_inference(build(VIT), dtype=torch.bfloat16)
    layers = [m for m in model.modules() if isinstance(m, SelfAttention)]
    assert layers and all(m.route.name in ('sdpa', 'matmul')
                          for m in layers)
    routes = {f: r for f, r in linear_routes(model).items()
              if f.startswith('attention bfloat16')}
    assert routes and all(reason.startswith('measured: matmul')
                          for _, reason, _ in routes.values())
    # fp32 models keep SDPA and measure nothing
    fp32 = prepare_for_inference(build(VIT))
    assert all(m.route is None for m in fp32.modules()
               if isinstance(m, SelfAttention))
