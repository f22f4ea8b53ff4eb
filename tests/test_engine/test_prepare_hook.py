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


def test_prepares_model_in_precision():
    model = _Tiny().train()
    HOOKS.build(dict(type='mmcnclip.PrepareForInferenceHook',
                     dtype='bf16')).before_test(_runner(model))
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
    PrepareForInferenceHook(fuse_linear=False).before_test(_runner(wrapper))
    assert isinstance(model.mlp.act, torch.nn.SiLU)  # QuickGELU folded
    assert type(model.mlp.fc1) is torch.nn.Linear


def test_rejects_unknown_dtype():
    with pytest.raises(ValueError, match='dtype must be one of'):
        PrepareForInferenceHook(dtype='int4')
