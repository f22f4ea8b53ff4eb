"""FusedLinear: oneDNN linear + activation on CPU, PyTorch everywhere else."""
import pytest
import torch
import torch.nn.functional as F
from test_inference import VIT, build

from mmcnclip.models.inference import fold_quick_gelu_
from mmcnclip.models.layers.fused_linear import (FusedLinear,
                                                 fuse_linear_layers_,
                                                 onednn_linear_available)
from mmcnclip.models.layers.transformer import QuickGELU

needs_onednn = pytest.mark.skipif(not onednn_linear_available(),
                                  reason='PyTorch built without oneDNN')
REFERENCE = {None: lambda x: x, 'silu': F.silu, 'gelu': F.gelu}


def _layer(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Linear(48, 80)


@needs_onednn
@pytest.mark.parametrize('act', [None, 'silu', 'gelu'])
@pytest.mark.parametrize('dtype,tol', [(torch.float32, 1e-5),
                                       (torch.bfloat16, 3e-2)])
def test_matches_linear_and_activation(act, dtype, tol):
    linear = _layer().to(dtype)
    fused = FusedLinear(linear, act)
    x = torch.randn(3, 7, 48).to(dtype)  # 3-D input, as in transformers
    with torch.inference_mode():
        assert fused._runs_onednn(x)
        ref = REFERENCE[act](linear(x).float())
        out = fused(x)
    assert out.dtype == dtype and out.shape == (3, 7, 80)
    assert (out.float() - ref).abs().max() < tol * ref.abs().max()


def test_autograd_falls_back_to_pytorch():
    linear = _layer()
    fused = FusedLinear(linear, 'gelu')
    x = torch.randn(5, 48, requires_grad=True)
    assert not fused._runs_onednn(x)
    fused(x).sum().backward()
    grad_fused, weight_grad = x.grad.clone(), linear.weight.grad.clone()
    x.grad = None
    linear.weight.grad = None
    F.gelu(linear(x)).sum().backward()
    assert torch.allclose(grad_fused, x.grad)
    assert torch.allclose(weight_grad, linear.weight.grad)


def test_rejects_unknown_activation():
    with pytest.raises(ValueError, match='act must be one of'):
        FusedLinear(_layer(), 'relu6')


def test_fuse_linear_layers_keeps_parameters_and_names():
    model = build(VIT)
    keys = {k: v.clone() for k, v in model.state_dict().items()}
    linears = sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    fold_quick_gelu_(model)
    assert fuse_linear_layers_(model) == linears
    assert not any(
        type(m) is torch.nn.Linear or isinstance(m, (torch.nn.SiLU,
                                                     torch.nn.GELU))
        for m in model.modules())
    acts = [m.act for m in model.modules() if isinstance(m, FusedLinear)]
    assert acts.count('silu') == 2 and acts.count('gelu') == 2
    state = model.state_dict()
    assert set(state) == set(keys)
    # Only the QuickGELU folding rescales weights; the swap moves nothing.
    changed = {k for k in keys if not torch.equal(keys[k], state[k])}
    assert changed and all('mlp.fc' in k for k in changed)


def test_quick_gelu_inference_path_equals_autograd_path():
    x = torch.randn(4, 9, 32, requires_grad=True)
    ref = x * torch.sigmoid(1.702 * x)
    with torch.inference_mode():
        out = QuickGELU()(x.detach().clone())
    torch.testing.assert_close(out, ref.detach(), rtol=0, atol=1e-6)
    QuickGELU()(x).sum().backward()  # the training path keeps autograd
    assert x.grad is not None
