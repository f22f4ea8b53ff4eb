"""attention(): SDPA everywhere, bf16 matrix products around an fp32 softmax
on the CPU without gradients; both agree with fp32 attention."""
import pytest
import torch
import torch.nn.functional as F

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
        out = attention(q, k, v, mask)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, atol=3e-2, rtol=3e-2)


def test_fp32_and_gradients_use_sdpa():
    q, k, v = _qkv(torch.float32)
    torch.testing.assert_close(attention(q, k, v),
                               F.scaled_dot_product_attention(q, k, v))
    q.requires_grad_()
    attention(q.bfloat16(), k.bfloat16(), v.bfloat16()).float().sum(
    ).backward()
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
