"""Every shipped config parses and names registered model/dataset types."""
import glob
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import REPO
from mmcnclip.registry import DATASETS, MODELS

CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)
NEEDS = {'mmdet': 'mmdet', 'mmseg': 'mmseg'}


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_parses_and_types_resolve(path):
    folder = osp.basename(osp.dirname(path))
    if folder in NEEDS and importlib.util.find_spec(NEEDS[folder]) is None:
        pytest.skip(f'{NEEDS[folder]} is not installed (dense env only)')
    cfg = Config.fromfile(path)
    scope = cfg.get('default_scope', 'mmpretrain')
    with MODELS.switch_scope_and_registry(scope) as models:
        assert models.get(cfg.model['type']) is not None
    with DATASETS.switch_scope_and_registry(scope) as datasets:
        for split in ('train', 'val', 'test'):
            loader = cfg.get(f'{split}_dataloader')
            if loader:
                assert datasets.get(loader['dataset']['type']) is not None
