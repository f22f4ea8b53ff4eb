"""Config preparation of the tools (mmcnclip.engine.runner_setup)."""
import os.path as osp

import pytest
import torch
import torch.distributed as torch_dist
from helpers.processes import free_port
from mmengine.config import Config

from conftest import REPO
from mmcnclip.engine import runner_setup


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

