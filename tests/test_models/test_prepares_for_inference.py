"""Models prepare themselves on their first test step, never for training."""
import pytest
import torch
from mmengine.model import BaseModel

from mmcnclip.models.inference import PreparesForInference, is_prepared
from mmcnclip.models.layers.fused_linear import FusedLinear
from mmcnclip.models.layers.transformer import MLP


class _Tiny(PreparesForInference, BaseModel):

    def __init__(self, inference_precision='fp32'):
        super().__init__()
        self.mlp = MLP(8, 16, 'quick_gelu')
        self.set_inference_precision(inference_precision)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.mlp(inputs)


def _data():
    torch.manual_seed(0)
    return dict(inputs=torch.randn(3, 8))


def test_first_test_step_prepares_and_keeps_results():
    plain, fast = _Tiny(None).eval(), _Tiny().eval()
    fast.load_state_dict(plain.state_dict())
    with torch.no_grad():
        ref = plain.test_step(_data())
        out = fast.test_step(_data())
    assert not is_prepared(plain) and type(plain.mlp.fc1) is torch.nn.Linear
    assert is_prepared(fast) and isinstance(fast.mlp.fc1, FusedLinear)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)


def test_training_and_validation_never_prepare():
    model = _Tiny().train()
    model.test_step(_data())  # training mode: left alone
    model.eval().val_step(_data())
    assert not is_prepared(model)
    model.test_step(_data())
    assert is_prepared(model)
    with pytest.raises(RuntimeError, match='cannot be trained or saved'):
        model.train()
    model.eval()  # still allowed


def test_precision_is_checked():
    with pytest.raises(ValueError, match='inference_precision must be'):
        _Tiny('int4')


def test_shipped_models_take_the_config_key():
    from conftest import model_config

    from mmcnclip.registry import MODELS
    cfg = model_config('RN50')
    cfg.update(inference_precision=None)
    assert MODELS.build(cfg).inference_precision is None
    cfg.update(type='mmcnclip.ZeroShotClassifier', inference_precision='bf16')
    assert MODELS.build(cfg).inference_precision == 'bf16'
