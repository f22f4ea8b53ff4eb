"""PrepareForInferenceHook: prepares the (unwrapped) model before testing."""
import logging
from types import SimpleNamespace

import pytest
import torch
from mmengine.model import BaseModel, MMDistributedDataParallel

from mmcnclip.engine import PrepareForInferenceHook
from mmcnclip.models.layers.fused_linear import FusedLinear
from mmcnclip.models.layers.transformer import MLP
from mmcnclip.registry import HOOKS


class _Tiny(BaseModel):

    def __init__(self):
        super().__init__()
        self.mlp = MLP(8, 16, 'quick_gelu')

    def forward(self, x, mode='tensor'):
        return self.mlp(x)


def _runner(model):
    return SimpleNamespace(model=model, logger=logging.getLogger('test'))


def _test_start(hook, runner, data_batch=None):
    """What the test loop calls before the first batch."""
    hook.before_test(runner)
    hook.before_test_iter(runner, 0, data_batch)


def test_prepares_model_in_precision():
    model = _Tiny().train()
    _test_start(HOOKS.build(dict(type='mmcnclip.PrepareForInferenceHook',
                                 dtype='bf16')), _runner(model))
    assert not model.training
    assert isinstance(model.mlp.fc1, FusedLinear)
    assert model.mlp.fc1.act == 'silu'
    assert model.mlp.fc1.weight.dtype == torch.bfloat16


def test_unwraps_model_wrappers():
    model = _Tiny()
    # A wrapper without a process group: only .module matters to the hook.
    wrapper = MMDistributedDataParallel.__new__(MMDistributedDataParallel)
    torch.nn.Module.__init__(wrapper)
    wrapper.module = model
    _test_start(PrepareForInferenceHook(fuse_linear=False), _runner(wrapper))
    assert isinstance(model.mlp.act, torch.nn.SiLU)  # QuickGELU folded
    assert type(model.mlp.fc1) is torch.nn.Linear


def test_rejects_unknown_dtype():
    with pytest.raises(ValueError, match='dtype must be one of'):
        PrepareForInferenceHook(dtype='int4')


def test_int8_calibrates_resnet_convolutions_on_the_first_batch():
    from helpers.int8 import images, quantised_convs, tiny_resnet

    class _ResNet(BaseModel):

        def __init__(self):
            super().__init__()
            self.backbone = tiny_resnet()

        def forward(self, inputs, data_samples=None, mode='tensor'):
            return self.backbone(inputs)

    model = _ResNet()
    hook = PrepareForInferenceHook(dtype='int8')
    _test_start(hook, _runner(model), dict(inputs=images(0)))
    assert quantised_convs(model.backbone) > 0
    hook.before_test_iter(_runner(model), 1, dict(inputs=images(1)))  # once
