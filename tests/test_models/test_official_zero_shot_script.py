"""Zero-shot scores equal those of ``cn_clip/eval/zeroshot_evaluation.py``.

The official script runs unmodified on CPU (the shim
``tools/official_cpu_shim.py``) on an ELEVATER-style folder
(``label_cn.txt`` + ``test/000...``, read with torchvision's
``ImageFolder``) with its 183 "openai" templates; mmcnclip
runs ``tools/test.py`` with the shipped elevater-folder config on the same
fp16-rounded checkpoint (like the released ones). Same top-1 for every
image, per-image probabilities within 1e-5 (the script writes them rounded
to 6 decimals), same accuracy.
"""
import json
import os
import os.path as osp
import pickle
import re

import pytest
import torch
from test_checkpoint.tiny_models import tiny_config, tiny_official
from test_datasets.retrieval_files import smooth_image

from conftest import REPO, build_official, save_official
from helpers.official_scripts import (TINY_TEXT_JSON, TINY_VIT_JSON,
                                      cn_clip_with_configs, run_official)
from helpers.processes import run_tool

pytest.importorskip('cn_clip')

CONFIG = osp.join(REPO, 'configs',
                  'cn-clip_{}_zeroshot-cls_elevater-folder.py')
CLASSES = ['猫', '狗', '飞机', '红色的汽车', '鸟', '船']  # >= 5: top-5


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    """2 images per class; one grey picture and one duplicate."""
    root = tmp_path_factory.mktemp('elevater')
    for c in range(len(CLASSES)):
        os.makedirs(root / 'test' / f'{c:03d}')
        for j in range(2):
            img = smooth_image(10 * c + j, size=40)
            if (c, j) == (1, 1):
                img = img.convert('L')
            img.save(root / 'test' / f'{c:03d}' / f'{j}.png')
    smooth_image(0, size=40).save(root / 'test' / '003' / 'dup.png')
    (root / 'label_cn.txt').write_text('\n'.join(CLASSES) + '\n',
                                       encoding='utf-8')
    return root


def official_scores(folder, work, ckpt, vision, text, site=None):
    log = run_official(
        'cn_clip.eval.zeroshot_evaluation', '--datapath',
        str(folder / 'test'), '--label-file', str(folder / 'label_cn.txt'),
        '--dataset', 'folder', '--save-dir', work, '--img-batch-size', '4',
        '--num-workers', '0', '--resume', ckpt, '--precision', 'fp32',
        '--vision-model', vision, '--text-model', text, site=site, cwd=work)
    top1 = float(re.findall(r'zeroshot-top1: ([0-9.]+)', log)[-1])
    with open(osp.join(work, 'folder.json')) as f:
        probs = torch.tensor(json.load(f)['predictions'][0])
    return top1, probs


def our_scores(config, ckpt, folder, work, extra=()):
    preds = osp.join(work, 'preds.pkl')
    log = run_tool('test.py', config, ckpt, '--work-dir',
                   osp.join(work, 'ours'), '--out', preds, '--cfg-options',
                   f'test_dataloader.dataset.data_root={folder}',
                   f'model.text_prototype={folder}/label_cn.txt',
                   'test_dataloader.num_workers=0',
                   'test_dataloader.batch_size=4', *extra)
    with open(preds, 'rb') as f:
        dumped = pickle.load(f)
    top1 = float(re.findall(r'accuracy/top1: ([0-9.]+)', log)[-1])
    return top1, torch.stack([torch.as_tensor(d['pred_score'])
                              for d in dumped])


def check(official, ours):
    (ref_top1, ref), (top1, probs) = official, ours
    assert probs.shape == ref.shape == (13, len(CLASSES))
    assert torch.equal(probs.argmax(1), ref.argmax(1))
    assert (probs - ref).abs().max() < 1e-5
    assert top1 == pytest.approx(100 * ref_top1, abs=1e-3)
    # not vacuous: images get different scores
    assert (ref.max(1).values - ref.min(1).values).max() > 1e-3


@pytest.mark.slow
def test_rn50_matches_official_script(folder, tmp_path):
    ckpt = save_official(build_official('RN50'), str(tmp_path / 'rn50.pt'),
                         half=True)
    check(official_scores(folder, str(tmp_path), ckpt, 'RN50',
                          'RBT3-chinese'),
          our_scores(CONFIG.format('resnet50'), ckpt, folder, str(tmp_path)))


def test_tiny_vit_matches_official_script(folder, tmp_path):
    # the script accepts official names only: the copy's ViT-B-32 and RBT3
    # configs get the toy sizes
    site = cn_clip_with_configs(str(tmp_path / 'site'), {
        'ViT-B-32': TINY_VIT_JSON, 'RBT3-chinese': TINY_TEXT_JSON})
    ckpt = save_official(tiny_official(), str(tmp_path / 'tiny.pt'),
                         half=True)
    config = tmp_path / 'tiny_zero_shot.py'
    model = dict(tiny_config(), type='mmcnclip.ZeroShotClassifier',
                 text_prompt='openai', head=dict(score_scale=100.))
    config.write_text(
        f"_base_ = [{CONFIG.format('vit-base-p16')!r}]\n"
        f"model = dict(_delete_=True, **{model!r})\n")
    check(official_scores(folder, str(tmp_path), ckpt, 'ViT-B-32',
                          'RBT3-chinese', site=site),
          our_scores(str(config), ckpt, folder, str(tmp_path),
                     ['test_dataloader.dataset.pipeline.1.scale=56']))
