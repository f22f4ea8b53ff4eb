"""Shipped configs resolve to what they resolved to before they were made to
inherit their shared parts from ``_base_`` (the ZeroShotClassifier, the
finetune schedule, val/test loops, the 336px pipelines, CLIP's mean/std).

``tests/data/resolved_configs.json`` holds ``Config.fromfile(...).to_dict()``
of every shipped config as it was; the only accepted differences are listed
in :func:`expected` and each is checked for what it claims. After changing a
shipped config on purpose, refresh the record:

    python tests/test_resolved_configs.py --update
"""
import glob
import inspect
import json
import os.path as osp
import sys

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
RECORD = osp.join(REPO, 'tests', 'data', 'resolved_configs.json')
#: Resolving these needs mmdet/mmseg (dense env); they are not recorded.
NOT_RECORDED = ('configs/mmdet/', 'configs/mmseg/')
TAIYI_TOWERS = 'configs/taiyi/taiyi-clip_roberta-large-326m_vit-h-14.py'
PIPELINES_336PX = 'configs/_base_/datasets/cn-clip_336px_pipelines.py'
CLIP_NORMALISATION = 'configs/_base_/clip_normalisation.py'


def shipped_configs() -> list:
    paths = glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    return sorted(osp.relpath(p, REPO) for p in paths
                  if '_base_' not in p and not p.startswith(
                      tuple(osp.join(REPO, d) for d in NOT_RECORDED)))


def resolve(rel: str) -> dict:
    """The resolved config as JSON data (tuples become lists)."""
    cfg = Config.fromfile(osp.join(REPO, rel), import_custom_modules=False)
    return json.loads(json.dumps(cfg.to_dict(), sort_keys=True))


def class_default(type_name: str, arg: str):
    """Default of ``arg`` in the constructor of registered ``type_name``."""
    import mmcnclip  # noqa: F401
    from mmcnclip.registry import MODELS
    params = inspect.signature(MODELS.get(type_name).__init__).parameters
    return params[arg].default


def without_defaults(old: dict, new: dict) -> dict:
    """``old`` minus the model arguments ``new`` leaves to the defaults of
    the model class; each must equal that default."""
    old = json.loads(json.dumps(old))
    model_type = new['model']['type']
    for arg in set(old['model']) - set(new['model']):
        default = class_default(model_type, arg)
        value = old['model'].pop(arg)
        if isinstance(default, dict):  # a sub-module config: compare built
            sub = value['type']
            default = dict(default, **{
                k: class_default(sub, k) for k in value if k != 'type'})
        assert value == json.loads(json.dumps(default)), (arg, value)
    return old


def expected(rel: str, old: dict, new: dict) -> dict:
    """``old`` with the deliberate changes applied."""
    if 'image_size' in old:  # one name for the input size: img_size
        old['img_size'] = old.pop('image_size')
    if rel.startswith('configs/taiyi/') and 'zeroshot-cls' in rel and \
            isinstance(old['model'].get('pretrained'), str):
        # The zero-shot configs name the two published towers (merged on
        # init) instead of a file merged by hand.
        towers = resolve(TAIYI_TOWERS)
        old['model']['pretrained'] = towers['model']['pretrained']
        for key in ('image_checkpoint', 'text_checkpoint'):
            old[key] = towers[key]
    if rel.endswith('_elevater-folder.py'):
        # ELEVATER has 2-class datasets; the official script reports top-1
        old['test_evaluator']['topk'] = [1]
    if '336px' in rel:  # the 336px pipelines come from one _base_ file,
        # which adds them by name (the loaders' pipelines are compared)
        old['pipelines_336px'] = resolve(PIPELINES_336PX)['pipelines_336px']
    if rel.startswith('configs/linear-probe/'):  # likewise CLIP's mean/std
        old.update(resolve(CLIP_NORMALISATION))
    return without_defaults(old, new)


def record() -> dict:
    with open(RECORD, encoding='utf-8') as f:
        return json.load(f)


@pytest.mark.parametrize('rel', shipped_configs())
def test_config_resolves_as_recorded(rel):
    old = record().get(rel)
    assert old is not None, (
        f'{rel} is not recorded: run python tests/test_resolved_configs.py '
        '--update after checking its resolved config')
    new = resolve(rel)
    assert new == expected(rel, old, new), (
        f'{rel} resolves differently from tests/data/resolved_configs.json; '
        'if the change is deliberate run python tests/test_resolved_configs.py'
        ' --update')


def test_every_recorded_config_is_shipped():
    assert sorted(record()) == shipped_configs()


if __name__ == '__main__':
    if sys.argv[1:] != ['--update']:
        sys.exit('usage: python tests/test_resolved_configs.py --update')
    with open(RECORD, 'w', encoding='utf-8') as f:
        json.dump({rel: resolve(rel) for rel in shipped_configs()}, f,
                  sort_keys=True, ensure_ascii=False, indent=0)
        f.write('\n')
