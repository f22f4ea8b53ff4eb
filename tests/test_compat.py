"""Guards of mmcnclip/compat.py: each test fails loudly when an internal of
mmengine/mmpretrain that mmcnclip patches changes, and checks that the
patch is still needed (no public mechanism appeared)."""
import inspect

import pytest
import torch
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import load_from_local
from mmpretrain.apis import ModelHub

import mmcnclip  # noqa: F401
from mmcnclip.compat import LOCAL_SCHEME, skip_weight_init


def test_mmengine_local_loader_is_wrapped_not_replaced(tmp_path):
    loader = CheckpointLoader._schemes[LOCAL_SCHEME]
    assert loader is not load_from_local
    assert loader.__wrapped__ is load_from_local, (
        "mmengine's local loader changed: revisit "
        'compat.extend_local_checkpoint_loader')
    assert CheckpointLoader._get_checkpoint_loader(str(tmp_path)) is loader
    # Still needed: mmengine's own loader cannot read a Hugging Face folder.
    with pytest.raises(FileNotFoundError):
        load_from_local(str(tmp_path), 'cpu')


def test_model_hub_internals_we_rely_on():
    assert isinstance(ModelHub._models_dict, dict)
    register = inspect.getattr_static(ModelHub, '_register_mmpretrain_models')
    assert isinstance(register, classmethod)
    assert getattr(register.__func__, '_mmcnclip_callback', None) is not None
    # ``get`` and ``list_models`` still register mmpretrain's index lazily
    # through this method (else our hook would never run).
    from mmpretrain.apis import model as hub_module
    assert 'cls._register_mmpretrain_models()' in inspect.getsource(
        ModelHub.get)
    assert 'ModelHub._register_mmpretrain_models()' in inspect.getsource(
        hub_module.list_models)
    # Still needed: register_model_index refuses names already present.
    assert 'conflict' in inspect.getsource(ModelHub.register_model_index)


def test_mmpretrain_still_ships_names_we_displace():
    from mmpretrain import list_models
    names = list_models('mmpretrain:cn-clip*')
    assert 'mmpretrain:cn-clip_resnet50_zeroshot-cls_cifar100' in names, (
        'mmpretrain no longer ships cn-clip_* models: '
        'compat.make_room_in_model_hub may be dropped')


def test_skip_weight_init_is_restored():
    before = torch.nn.init.normal_
    with skip_weight_init():
        t = torch.full((3, ), 7.)
        torch.nn.init.normal_(t)
        assert torch.equal(t, torch.full((3, ), 7.))
    assert torch.nn.init.normal_ is before
