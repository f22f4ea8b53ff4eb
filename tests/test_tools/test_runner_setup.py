"""In-process checks of the tools' config handling (no subprocess)."""
import importlib.util
import os.path as osp
import sys

import pytest
import torch
import torch.distributed as torch_dist
from helpers.processes import free_port
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO, 'tools')
sys.path.insert(0, TOOLS)
import runner_setup  # noqa: E402


def _load_tool(name):
    """Import tools/<name>.py under a name that shadows nothing."""
    spec = importlib.util.spec_from_file_location(
        f'mmcnclip_tools_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dataloader_defaults():
    cfg = Config(dict(
        test_dataloader=dict(num_workers=0, persistent_workers=True),
        train_dataloader=dict(num_workers=2, pin_memory=True)))
    runner_setup.set_dataloader_defaults(
        cfg, ['test_dataloader', 'train_dataloader', 'val_dataloader'])
    assert cfg.test_dataloader.persistent_workers is False  # no workers
    assert cfg.test_dataloader.pin_memory == torch.cuda.is_available()
    assert cfg.test_dataloader.collate_fn == dict(type='default_collate')
    assert cfg.train_dataloader.persistent_workers is True
    assert cfg.train_dataloader.pin_memory is True  # the config's choice
    assert 'val_dataloader' not in cfg
    runner_setup.set_dataloader_defaults(cfg, ['train_dataloader'],
                                         no_pin_memory=True)
    assert cfg.train_dataloader.pin_memory is False


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


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_cpu_distributed_uses_gloo(monkeypatch):
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'default_runtime.py'))
    runner_setup.setup_distributed(cfg, 'none')
    assert cfg.launcher == 'none' and 'model_wrapper_cfg' not in cfg
    with pytest.raises(ValueError, match='--launcher pytorch'):
        runner_setup.setup_distributed(cfg, 'slurm')

    assert not torch_dist.is_initialized()
    port = free_port()
    for key, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
                           MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(port)).items():
        monkeypatch.setenv(key, value)
    try:
        runner_setup.setup_distributed(cfg, 'pytorch')
        assert torch_dist.is_initialized()
        assert torch_dist.get_backend() == 'gloo'
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    assert cfg.model_wrapper_cfg.device_ids is None
