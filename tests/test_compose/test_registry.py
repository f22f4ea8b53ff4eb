"""``type='mmcnclip.X'`` must resolve from registries of other packages
(mmdet, mmseg, any downstream scope), not only from mmpretrain's tree."""
import pytest
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope, Registry

import mmcnclip  # noqa: F401
from mmcnclip.models.backbones import CLIPVisionTransformer, ModifiedResNet


@pytest.fixture(scope='module')
def foreign():
    """A registry of a package unrelated to mmpretrain."""
    name = 'fakedet_mmcnclip_test'
    reg = ROOT_MODELS._children.get(name) or Registry(
        'model', parent=ROOT_MODELS, scope=name)
    return reg


def test_scoped_name_resolves_from_a_foreign_registry(foreign):
    assert foreign.get('mmcnclip.CLIPVisionTransformer') is \
        CLIPVisionTransformer
    model = foreign.build(dict(type='mmcnclip.ModifiedResNet',
                               out_indices=(3, ), with_attnpool=False))
    assert isinstance(model, ModifiedResNet)


def test_scoped_name_resolves_under_a_foreign_default_scope(foreign):
    with DefaultScope.overwrite_default_scope(foreign.scope):
        assert ROOT_MODELS.get('mmcnclip.ModifiedResNet') is ModifiedResNet
        assert foreign.get('mmcnclip.ModifiedResNet') is ModifiedResNet


def test_unscoped_names_still_fall_back_to_mmpretrain():
    from mmcnclip.registry import MODELS
    assert MODELS.get('LinearClsHead') is not None
    assert MODELS.get('ImageClassifier') is not None


def test_mmdet_registry_resolves_mmcnclip():
    mmdet_registry = pytest.importorskip(
        'mmdet.registry', reason='mmdet only in the dense env')
    assert mmdet_registry.MODELS.get('mmcnclip.ModifiedResNet') is \
        ModifiedResNet


@pytest.mark.parametrize('kind', ['MODELS', 'DATASETS', 'TRANSFORMS',
                                  'METRICS', 'HOOKS'])
def test_every_registered_type_resolves_from_a_foreign_scope(kind):
    """Through ``Registry.get``'s public import fallback (``mmcnclip.X``):
    mmcnclip writes nothing into mmengine's root registries."""
    import mmengine.registry as root_registries

    from mmcnclip import registry as ours
    root = getattr(root_registries, kind)
    assert 'mmcnclip' not in root._children
    foreign = Registry(kind.lower(), parent=root,
                       scope=f'fake_{kind.lower()}_mmcnclip_test')
    names = getattr(ours, kind).module_dict
    assert names
    for name, obj in names.items():
        assert foreign.get(f'mmcnclip.{name}') is obj, name
