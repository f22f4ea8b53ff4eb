"""End to end: tools/test.py with the RN50 CIFAR-100 zero-shot config gives
the per-image scores of the official Chinese-CLIP zero-shot procedure."""
import os.path as osp
import pickle

import numpy as np
import torch
from helpers.processes import run_tool
from PIL import Image
from test_datasets.cifar_files import rgb_images, write_cifar100

from conftest import (REPO, build_official, official_zero_shot_scores,
                      save_official)

N_TEST = 8
TEMPLATES = ['一张{}的图片。', '“{}”的特写']


def smooth_cifar_images(n, seed=0):
    """CIFAR rows (N, 3072) of images with distinct low-frequency content
    (white noise would give nearly identical pooled features)."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=gen)
    imgs = torch.nn.functional.interpolate(coarse, size=(32, 32),
                                           mode='bilinear')
    imgs = (imgs * 255).round().clamp(0, 255).to(torch.uint8)
    return imgs.reshape(n, -1).numpy()


def official_zero_shot(official, images, classnames, templates):
    """Official scores of CIFAR arrays, on one thread (shared cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return official_zero_shot_scores(
            official, [Image.fromarray(img) for img in images], classnames,
            templates)
    finally:
        torch.set_num_threads(threads)


def test_tools_test_matches_official(tmp_path):
    from mmcnclip.text import get_classnames

    # A tiny CIFAR-100 test split in the official pickle layout.
    write_cifar100(str(tmp_path), n_train=2, n_test=N_TEST)
    test_file = tmp_path / 'cifar-100-python' / 'test'
    with open(test_file, 'rb') as f:
        entry = pickle.load(f)
    entry['data'] = smooth_cifar_images(N_TEST)
    with open(test_file, 'wb') as f:
        pickle.dump(entry, f, protocol=2)

    # A random official-format RN50 checkpoint. Its logit scale is not
    # ln 100: the configs scale by the constant 100 like the official
    # zeroshot_evaluation.py, whatever the checkpoint holds.
    official = build_official('RN50')
    assert abs(official.logit_scale.exp().item() - 100) > 1
    ckpt = save_official(official, str(tmp_path / 'rn50.pt'))
    templates_file = tmp_path / 'templates.txt'
    templates_file.write_text('\n'.join(TEMPLATES), encoding='utf-8')

    out = tmp_path / 'scores.pkl'
    log = run_tool(
        'test.py',
        osp.join(REPO, 'configs', 'cn-clip_resnet50_zeroshot-cls_cifar100.py'),
        ckpt, '--out', str(out), '--work-dir', str(tmp_path / 'work'),
        '--cfg-options', f'test_dataloader.dataset.data_root={tmp_path}',
        'test_dataloader.num_workers=0', 'test_dataloader.batch_size=4',
        f'model.text_prompt={templates_file}', cwd=tmp_path)
    assert 'accuracy/top1' in log
    # progress of prompt encoding and of the images, never '\r' in logs
    assert f'{100 * len(TEMPLATES)}/{100 * len(TEMPLATES)} prompts' in log
    assert f'{N_TEST}/{N_TEST} images' in log
    log_file = next((tmp_path / 'work').glob('*/*.log')).read_text()
    assert '\r' not in log and '\r' not in log_file
    with open(out, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == N_TEST
    scores = torch.stack([torch.as_tensor(d['pred_score']) for d in dumped])
    assert 'ZeroShotClassifier prepared for inference (fp32' in log
    # --no-prepare: the unprepared model, within 1e-5 of the prepared one
    plain_out = tmp_path / 'plain.pkl'
    run_tool(
        'test.py',
        osp.join(REPO, 'configs', 'cn-clip_resnet50_zeroshot-cls_cifar100.py'),
        ckpt, '--out', str(plain_out), '--work-dir', str(tmp_path / 'work'),
        '--cfg-options', f'test_dataloader.dataset.data_root={tmp_path}',
        'test_dataloader.num_workers=0', 'test_dataloader.batch_size=4',
        f'model.text_prompt={templates_file}', '--no-prepare', cwd=tmp_path)
    with open(plain_out, 'rb') as f:
        plain = torch.stack([torch.as_tensor(d['pred_score'])
                             for d in pickle.load(f)])
    torch.testing.assert_close(plain, scores, rtol=0, atol=1e-5)
    scores = {False: scores, True: plain}

    images = rgb_images(entry)
    ref = official_zero_shot(official, images, get_classnames('cifar100'),
                             TEMPLATES)
    for got in scores.values():
        assert got.shape == ref.shape == (N_TEST, 100)
        assert (got - ref).abs().max() < 1e-5
        assert torch.equal(got.argmax(dim=1), ref.argmax(dim=1))
    # Not vacuous: images and classes get distinct scores.
    assert (ref[0] - ref[1]).abs().max() > 1e-4
    assert ref.max() > 2 / 100
    assert np.array_equal(
        [int(d['gt_label']) for d in dumped], entry['fine_labels'])
