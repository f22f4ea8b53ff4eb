"""Registries of mmcnclip.

Every registry is a child of the corresponding mmpretrain registry with the
scope ``mmcnclip``. Inside any OpenMMLab config, after
``custom_imports = dict(imports=['mmcnclip'])``, our modules are reachable as
``type='mmcnclip.X'``; unscoped names looked up from our registries fall back
to mmpretrain (and then mmengine), so ``LinearClsHead`` or ``PackInputs`` keep
working inside mmcnclip models and pipelines.
"""
from mmengine.registry import Registry
from mmpretrain.registry import DATASETS as PRETRAIN_DATASETS
from mmpretrain.registry import HOOKS as PRETRAIN_HOOKS
from mmpretrain.registry import METRICS as PRETRAIN_METRICS
from mmpretrain.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as PRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from mmpretrain.registry import TRANSFORMS as PRETRAIN_TRANSFORMS

MODELS = Registry(
    'model', parent=PRETRAIN_MODELS, scope='mmcnclip',
    locations=['mmcnclip.models'])
DATASETS = Registry(
    'dataset', parent=PRETRAIN_DATASETS, scope='mmcnclip',
    locations=['mmcnclip.datasets'])
TRANSFORMS = Registry(
    'transform', parent=PRETRAIN_TRANSFORMS, scope='mmcnclip',
    locations=['mmcnclip.datasets'])
METRICS = Registry(
    'metric', parent=PRETRAIN_METRICS, scope='mmcnclip',
    locations=['mmcnclip.evaluation'])
HOOKS = Registry(
    'hook', parent=PRETRAIN_HOOKS, scope='mmcnclip',
    locations=['mmcnclip.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=PRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS, scope='mmcnclip',
    locations=['mmcnclip.engine'])


def _reachable_from_every_scope(registry: Registry) -> None:
    """Let ``type='mmcnclip.X'`` resolve from any package's registry.

    mmengine resolves a foreign scope only among the root registry's direct
    children; ours hang below mmpretrain's (so that unscoped names fall back
    to mmpretrain). Listing each registry under the root too (same object,
    parent unchanged) makes lookups from mmdet/mmseg registries work.
    """
    registry._get_root_registry()._children.setdefault(registry.scope,
                                                       registry)


for _registry in (MODELS, DATASETS, TRANSFORMS, METRICS, HOOKS,
                  OPTIM_WRAPPER_CONSTRUCTORS):
    _reachable_from_every_scope(_registry)
