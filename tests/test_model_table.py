"""The model table: every number in it is checked against its source."""
import os.path as osp

import pytest
import torch
import yaml
from mmengine.config import Config
from torch.utils.flop_counter import FlopCounterMode

import mmcnclip  # noqa: F401
from conftest import REPO
from helpers.processes import run_tool
from mmcnclip.model_table import (MODEL_TABLE, ZERO_SHOT_TASKS,
                                  base_config_path, metafile_text,
                                  official_model_args)
from mmcnclip.registry import MODELS


@pytest.mark.parametrize('name', list(MODEL_TABLE))
def test_params_gflops_and_configs(name):
    row = MODEL_TABLE[name]
    cfg = Config.fromfile(base_config_path(name)).model
    with torch.device('meta'):
        model = MODELS.build(cfg)
        image = torch.empty(1, 3, row.img_size, row.img_size)
        with FlopCounterMode(display=False) as counter:
            model.encode_image(image)
    assert sum(p.numel() for p in model.parameters()) == row.params
    assert counter.get_total_flops() / 1e9 == pytest.approx(
        row.image_gflops, rel=5e-3)
    for task in ZERO_SHOT_TASKS:
        assert osp.isfile(osp.join(REPO, 'configs',
                                   row.zero_shot_config(task) + '.py'))


@pytest.mark.parametrize('name', list(MODEL_TABLE))
def test_official_json_configs_exist(name):
    pytest.importorskip('cn_clip')
    from cn_clip.clip import available_models
    assert name in available_models()
    args = official_model_args(name)
    assert args['image_resolution'] == MODEL_TABLE[name].img_size


def test_metafile_is_generated_from_the_table():
    with open(osp.join(REPO, 'configs', 'metafile.yml'),
              encoding='utf-8') as f:
        assert f.read() == metafile_text(), (
            'configs/metafile.yml is stale: run '
            'python tools/misc/generate_metafile.py')
    with open(osp.join(REPO, 'model-index.yml')) as f:
        assert yaml.safe_load(f) == {'Import': ['configs/metafile.yml']}


def test_generate_metafile_tool_check():
    out = run_tool('misc/generate_metafile.py', '--check', with_stderr=False)
    assert out.strip() == 'up to date'
