"""The dataset and runtime base configs build working RGB pipelines."""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image
from test_datasets.cifar_files import rgb_images, write_cifar10, \
    write_cifar100

from mmcnclip.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(REPO, 'configs', '_base_')

CONFIGS = {
    'cifar100_cn-clip': ('mmcnclip.CIFAR100', 'data/cifar100'),
    'cifar10_cn-clip': ('mmcnclip.CIFAR10', 'data/cifar10'),
    'imagenet-cn_cn-clip': ('mmcnclip.ZeroShotImageFolder',
                            'data/datasets/imagenet'),
    'elevater-folder_cn-clip': ('mmcnclip.ZeroShotImageFolder',
                                'data/datasets/cifar-100'),
}


def _load(name):
    return Config.fromfile(osp.join(BASE, 'datasets', f'{name}.py'))


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_dataset_config_fields(name):
    cfg = _load(name)
    dataset_type, data_root = CONFIGS[name]
    loader = cfg.test_dataloader
    assert loader.dataset.type == dataset_type
    assert loader.dataset.data_root == data_root
    assert loader.pin_memory is False and loader.num_workers <= 4
    assert loader.sampler == dict(type='DefaultSampler', shuffle=False)
    # ELEVATER has 2-class datasets and the official script reports top-1
    topk = (1, ) if name.startswith('elevater') else (1, 5)
    assert cfg.test_evaluator == dict(type='Accuracy', topk=topk)
    assert cfg.img_size == 224
    types = [t['type'] for t in loader.dataset.pipeline]
    assert types == ['mmcnclip.LoadImagePIL', 'mmcnclip.PILResize',
                     'PackInputs']
    assert loader.dataset.pipeline[1]['scale'] == cfg.img_size
    # Folder datasets convert like torchvision's ImageFolder loader.
    assert loader.dataset.pipeline[0].get('convert_rgb', False) == (
        dataset_type == 'mmcnclip.ZeroShotImageFolder')
    # The documented size override.
    cfg.merge_from_dict({'test_dataloader.dataset.pipeline.1.scale': 336})
    assert cfg.test_dataloader.dataset.pipeline[1]['scale'] == 336


@pytest.mark.parametrize('name,writer', [('cifar100_cn-clip', write_cifar100),
                                         ('cifar10_cn-clip', write_cifar10)])
def test_cifar_configs_give_rgb_224(tmp_path, name, writer):
    batches = writer(str(tmp_path))
    test_batch = batches.get('test', batches.get('test_batch'))
    cfg = _load(name)
    cfg.test_dataloader.dataset.data_root = str(tmp_path)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    packed = dataset[1]
    rgb = rgb_images(test_batch)[1]
    expected = np.asarray(
        Image.fromarray(rgb).resize((224, 224), Image.BICUBIC))
    np.testing.assert_array_equal(
        packed['inputs'].permute(1, 2, 0).numpy(), expected)
    assert cfg.val_dataloader.dataset.split == 'test'
    assert cfg.val_cfg == dict() and cfg.test_cfg == dict()


def test_folder_config_builds(tmp_path):
    for i, color in enumerate([(255, 0, 0), (0, 0, 255)]):
        folder = tmp_path / 'test' / f'{i:03d}'
        folder.mkdir(parents=True)
        Image.new('RGB', (5, 7), color).save(folder / 'x.png')
    (tmp_path / 'label_cn.txt').write_text('红\n蓝\n', encoding='utf-8')
    cfg = _load('elevater-folder_cn-clip')
    cfg.test_dataloader.dataset.data_root = str(tmp_path)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert dataset.metainfo['classes'] == ('红', '蓝')
    for i, channel in enumerate([0, 2]):
        packed = dataset[i]
        assert packed['inputs'].shape == (3, 224, 224)
        assert packed['data_samples'].gt_label.item() == i
        # Red is channel 0 and blue channel 2: RGB, never BGR.
        assert packed['inputs'][channel].min() == 255
        assert packed['inputs'].sum() == 255 * 224 * 224


def test_default_runtime():
    cfg = Config.fromfile(osp.join(BASE, 'default_runtime.py'))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports == dict(imports=['mmcnclip'],
                                      allow_failed_imports=False)
    assert cfg.default_hooks.logger.type == 'LoggerHook'
    assert cfg.default_hooks.visualization.enable is False
    assert cfg.env_cfg.dist_cfg.backend in ('nccl', 'gloo')
    assert cfg.load_from is None and cfg.resume is False
    assert cfg.randomness == dict(seed=None, deterministic=False)
