"""The CLIP normalisation written in configs whose models are not
mmcnclip's (``configs/_base_/clip_normalisation.py``) is the one mmcnclip's
own models derive from ``CLIP_MEAN``/``CLIP_STD`` (x255)."""
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import REPO
from mmcnclip.models.data_preprocessor import default_data_preprocessor


def test_config_normalisation_is_the_models_one():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'clip_normalisation.py'))
    models = default_data_preprocessor(None, 'ClsDataPreprocessor')
    assert cfg.clip_mean == pytest.approx(models['mean'], abs=1e-6)
    assert cfg.clip_std == pytest.approx(models['std'], abs=1e-6)
