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


class _NoBuild:
    """Stands in for what builds the model; records that it was reached."""

    def __init__(self):
        self.calls = []

    def from_cfg(self, *args, **kwargs):
        self.calls.append('model built')
        raise AssertionError('the model was built before the file check')

    __call__ = from_cfg


@pytest.mark.parametrize('tool,config,builder', [
    ('test', 'cn-clip_resnet50_zeroshot-cls_cifar100.py', 'Runner'),
    ('extract_features', 'shapes/cn-clip_tiny_shapes.py',
     'init_retrieval_model'),
])
def test_missing_files_fail_before_the_model_is_built(tool, config, builder,
                                                      tmp_path,
                                                      monkeypatch):
    module = _load_tool(tool)
    no_build = _NoBuild()
    monkeypatch.setattr(module, builder, no_build)
    cfg = osp.join(REPO, 'configs', config)
    extra = ['--out', str(tmp_path / 'x.pt')] if tool != 'test' else \
        ['--work-dir', str(tmp_path)]
    missing = str(tmp_path / 'nonexist.pth')
    with pytest.raises(SystemExit) as info:
        module.main([cfg, missing, *extra])
    message = str(info.value)
    assert message.startswith(f'tools/{tool}.py: error: checkpoint not '
                              f'found: {missing}') and 'README' in message
    ckpt = tmp_path / 'ckpt.pth'
    ckpt.write_bytes(b'')  # exists: the dataset check comes next
    root = tmp_path / 'no_data'
    with pytest.raises(SystemExit) as info:
        module.main([cfg, str(ckpt), *extra, '--cfg-options',
                     f'test_dataloader.dataset.data_root={root}'])
    message = str(info.value)
    assert f'missing {root}' in message and '\n' not in message
    assert ('cifar-100-python.tar.gz' in message if tool == 'test' else
            'OFA-Sys/Chinese-CLIP' in message)
    assert no_build.calls == []
