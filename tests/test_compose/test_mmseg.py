"""mmseg composition: the UperNet config on the mmcnclip RN50 builds, loads
the image tower of an official checkpoint and runs a forward + loss step on
CPU. Needs the dense env (tools/setup_dense_env.sh)."""
import copy
import os.path as osp

import pytest
import torch

pytest.importorskip(
    'mmseg', reason='mmsegmentation (and full mmcv with ops) is only in the '
    'dense env: tools/setup_dense_env.sh')
pytest.importorskip('mmcv.ops', reason='full mmcv with compiled ops needed')

from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import mmcnclip  # noqa: E402,F401
from conftest import REPO, build_official, save_official  # noqa: E402


def test_upernet_rn50_loads_official_tower_and_trains(tmp_path):
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(osp.join(
        REPO, 'configs', 'mmseg',
        'upernet_cn-clip-rn50_4xb4-80k_ade20k-512x512.py'))
    official = build_official('RN50')
    ckpt = save_official(official, str(tmp_path / 'rn50.pt'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg.checkpoint = ckpt
    model_cfg.data_preprocessor.size = (64, 64)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(model_cfg)
        model.init_weights()
    assert torch.equal(model.backbone.layer2[1].conv2.weight,
                       official.visual.layer2[1].conv2.weight)
    torch.manual_seed(0)
    samples = []
    for _ in range(2):  # BatchNorm after the 1x1 pyramid pool needs B > 1
        sample = SegDataSample(metainfo=dict(
            img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 150, (1, 64, 64)))
        samples.append(sample)
    images = [torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)
              for _ in samples]
    data = model.data_preprocessor(
        dict(inputs=images, data_samples=samples), True)
    model.train()
    losses = model(**data, mode='loss')
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(losses)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
