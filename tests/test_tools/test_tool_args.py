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
