"""Registries of mmcnclip.

Every registry is a child of the corresponding mmpretrain registry with the
scope ``mmcnclip``. Inside any OpenMMLab config, after
``custom_imports = dict(imports=['mmcnclip'])``, our modules are reachable as
``type='mmcnclip.X'``: from mmpretrain's registries through their child of
that scope, from any other package's (mmdet, mmseg, ...) through the
documented fallback of ``Registry.get``, which imports ``mmcnclip.X`` (the
package exports every registered module, see :func:`registered_modules`).
Unscoped names looked up from our registries fall back to mmpretrain (and
then mmengine), so ``LinearClsHead`` or ``PackInputs`` keep working inside
mmcnclip models and pipelines.
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


def registered_modules() -> dict:
    """Every module registered by mmcnclip, by name (all registries).

    Raises:
        RuntimeError: Two registries hold different objects under one name
            (``mmcnclip.X`` must name exactly one).
    """
    modules = {}
    for registry in (MODELS, DATASETS, TRANSFORMS, METRICS, HOOKS,
                     OPTIM_WRAPPER_CONSTRUCTORS):
        for name, obj in registry.module_dict.items():
            if modules.setdefault(name, obj) is not obj:
                raise RuntimeError(
                    f'mmcnclip.{name} is registered twice, differently, in '
                    f'the {registry.name} registry and another one')
    return modules
