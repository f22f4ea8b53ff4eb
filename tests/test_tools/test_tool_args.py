"""In-process checks of the tools' command-line handling (no
subprocess): tools/test.py and tools/train.py merge their arguments into the
config."""
import importlib.util
import os.path as osp

import pytest

from conftest import REPO
from mmcnclip.engine import runner_setup

TOOLS = osp.join(REPO, 'tools')


def _load_tool(name):
    """Import tools/<name>.py under a name that shadows nothing."""
    spec = importlib.util.spec_from_file_location(
        f'mmcnclip_tools_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_test_py_merges_arguments(tmp_path):
    tool = _load_tool('test')
    cfg_path = osp.join(REPO, 'configs', '_base_', 'default_runtime.py')
    args = tool.parse_args([
        cfg_path, 'ckpt.pth', '--show-dir', str(tmp_path), '--amp',
        '--cfg-options', 'log_level=DEBUG'])
    cfg = tool.merge_args(runner_setup.load_config(cfg_path), args)
    assert cfg.load_from == 'ckpt.pth'
    assert cfg.work_dir == osp.join('./work_dirs', 'default_runtime')
    assert cfg.test_cfg.fp16 is True
    assert cfg.default_hooks.visualization.enable is True
    assert cfg.default_hooks.visualization.out_dir == str(tmp_path)
    assert cfg.log_level == 'DEBUG'
    with pytest.raises(SystemExit):
        tool.parse_args([cfg_path, 'ckpt.pth', '--out-item', 'metrics'])


def test_train_py_merges_arguments():
    tool = _load_tool('train')
    cfg_path = osp.join(REPO, 'configs', '_base_', 'default_runtime.py')
    args = tool.parse_args([cfg_path, '--resume', '--work-dir', 'w'])
    cfg = tool.merge_args(runner_setup.load_config(cfg_path), args)
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.work_dir == 'w'
    args = tool.parse_args([cfg_path, '--resume', 'a.pth', '--no-validate'])
    cfg = tool.merge_args(runner_setup.load_config(cfg_path), args)
    assert cfg.load_from == 'a.pth' and cfg.val_dataloader is None
    args = tool.parse_args([cfg_path, '--auto-scale-lr'])
    with pytest.raises(ValueError, match='base_batch_size'):
        tool.merge_args(runner_setup.load_config(cfg_path), args)
