"""Retrieval recalls and rankings equal those of the official scripts.

The official pipeline runs unmodified on CPU (the shim
``tools/official_cpu_shim.py``):
``cn_clip.preprocess.build_lmdb_dataset`` -> ``eval.extract_features`` ->
``eval.make_topk_predictions`` -> ``eval.evaluation`` for text-to-image and
``eval.transform_ir_annotation_to_tr`` -> ``make_topk_predictions_tr`` ->
``evaluation_tr`` for image-to-text. mmcnclip runs ``tools/test.py`` with
the shipped retrieval-test config on the same checkpoint, in the tsv and
the LMDB layout. The data has duplicate images (equal image features: tied
scores for every text) and duplicate captions (ties for every image), and
image ids whose string order differs from their numeric order (the
official gallery order is the LMDB key order).
"""
import json
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner
from test_checkpoint.tiny_models import tiny_config, tiny_official
from test_datasets.retrieval_files import (build_official_lmdb,
                                           smooth_image, write_retrieval)

from conftest import REPO, build_official, save_official
from helpers.official_scripts import (TINY_TEXT_JSON, TINY_VIT_JSON,
                                      cn_clip_with_configs, run_official)
from helpers.processes import run_tool

pytest.importorskip('cn_clip')
pytest.importorskip('lmdb')

CONFIG = osp.join(REPO, 'configs', 'cn-clip_{}_retrieval_muge-test.py')
#: image id -> picture seed; 5 and 12 repeat 2 and 3 (tied features). 16
#: images and 16 texts: the official search (one float32 product per
#: query) then scores equal features exactly alike in every column
IMAGES = {i: i for i in range(1, 17)}
IMAGES.update({5: 2, 12: 3})
CAPTIONS = ['红色的裙子', '一双运动鞋', '蓝色的杯子', '木头桌子', '白色的猫',
            '一只黑狗', '绿色的树', '城市夜景', '海边日落', '黄色的雨伞',
            '一本旧书', '银色的手表', '两个苹果']
#: (text id, caption index, image ids): several images per text, a text
#: for the second of two duplicates, texts with the same caption
TEXTS = [(100 + t, c, ids) for t, (c, ids) in enumerate([
    (0, [1]), (1, [5]), (2, [2, 3]), (3, [12]), (4, [4, 10]), (5, [6]),
    (6, [7, 11]), (7, [8]), (8, [9]), (0, [1, 12]), (3, [10]), (9, [13]),
    (10, [14]), (11, [15, 16]), (12, [16]), (9, [2])])]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('retrieval'))
    images = {i: smooth_image(seed, size=64) for i, seed in IMAGES.items()}
    texts = [dict(text_id=t, text=CAPTIONS[c], image_ids=ids)
             for t, c, ids in TEXTS]
    write_retrieval(root, 'valid', images, texts)
    build_official_lmdb(root, ('valid', ))
    return root


def official_pipeline(root, work, ckpt, vision, text, site=None):
    """Recalls (%) and top-10 lists of the official scripts.

    Images and texts are encoded one at a time (on both sides), so that
    duplicate pictures get bitwise-equal features wherever they sit in a
    batch; the searches use the default ``--eval-batch-size`` (one block
    here), so that equal features give equal scores (blocked products may
    differ in the last bit between block positions).
    """
    texts = osp.join(root, 'valid_texts.jsonl')
    img_feats, txt_feats = (osp.join(work, f'{n}.jsonl')
                            for n in ('img_feat', 'txt_feat'))
    run_official('cn_clip.eval.extract_features', '--extract-image-feats',
                 '--extract-text-feats', '--image-data',
                 osp.join(root, 'lmdb', 'valid', 'imgs'), '--text-data',
                 texts, '--image-feat-output-path', img_feats,
                 '--text-feat-output-path', txt_feats, '--img-batch-size',
                 '1', '--text-batch-size', '1', '--resume', ckpt,
                 '--precision', 'fp32', '--vision-model', vision,
                 '--text-model', text, site=site, cwd=work)
    run_official('cn_clip.eval.transform_ir_annotation_to_tr', '--input',
                 texts, cwd=work)
    out = {}
    for direction, suffix, answers in (
            ('t2i', '', texts), ('i2t', '_tr', texts[:-6] + '.tr.jsonl')):
        preds = osp.join(work, f'{direction}_preds.jsonl')
        run_official(f'cn_clip.eval.make_topk_predictions{suffix}',
                     '--image-feats', img_feats, '--text-feats', txt_feats,
                     '--top-k', '10', '--output',
                     preds, cwd=work)
        scores = osp.join(work, f'{direction}_scores.json')
        run_official(f'cn_clip.eval.evaluation{suffix}', answers, preds,
                     scores, cwd=work)
        with open(scores) as f:
            result = json.load(f)
        assert result['success'], result
        for k in (1, 5, 10):
            out[f'retrieval/{direction}_R@{k}'] = result['scoreJson'][f'r{k}']
        with open(preds) as f:
            out[direction] = [json.loads(line) for line in f]
    return out


def our_metrics(config, ckpt, root, work, layout, extra=()):
    metrics = osp.join(work, f'metrics_{layout}.json')
    opts = [f'test_dataloader.dataset.data_root={root}',
            'test_dataloader.num_workers=0', 'test_dataloader.batch_size=1',
            'test_dataloader.persistent_workers=False', *extra]
    if layout == 'lmdb':
        opts.append('test_dataloader.dataset.type='
                    'mmcnclip.CNCLIPLmdbRetrieval')
    run_tool('test.py', config, ckpt, '--work-dir', osp.join(work, layout),
             '--out', metrics, '--out-item', 'metrics', '--cfg-options',
             *opts)
    with open(metrics) as f:
        return json.load(f)


def our_rankings(config, ckpt, root, extra_cfg):
    """Top-10 lists from mmcnclip's index search (in-process)."""
    from mmcnclip.apis import extract_features, init_retrieval_model
    from mmcnclip.engine.runner_setup import load_config
    cfg = load_config(config)
    cfg.merge_from_dict(dict(extra_cfg, **{
        'test_dataloader.dataset.data_root': root,
        'test_dataloader.num_workers': 0, 'test_dataloader.batch_size': 1,
        'test_dataloader.persistent_workers': False}))
    model = init_retrieval_model(cfg, ckpt)
    index = extract_features(
        model, Runner.build_dataloader(cfg.test_dataloader), progress=False)
    _, t2i = index.search(index.text_feats, 10, gallery='image')
    described = sorted({i for _, _, ids in TEXTS for i in ids},
                       key=lambda i: str(i))
    rows = [index.image_ids.index(i) for i in described]
    _, i2t = index.search(index.image_feats[rows], 10, gallery='text')
    return ([dict(text_id=t, image_ids=r)
             for t, r in zip(index.text_ids, t2i)],
            dict(zip(described, i2t)))


def official_ties_are_exact(work):
    """Precondition: the official scores of duplicates are equal (the
    product ``make_topk_predictions`` computes, on its feature files)."""
    feats = {}
    for name, key in (('img_feat', 'image_id'), ('txt_feat', 'text_id')):
        with open(osp.join(work, f'{name}.jsonl')) as f:
            rows = [json.loads(line) for line in f]
        feats[name] = ({r[key]: i for i, r in enumerate(rows)},
                       torch.tensor([r['feature'] for r in rows]))
    (img_row, img), (txt_row, txt) = feats['img_feat'], feats['txt_feat']
    for a, b in ((2, 5), (3, 12)):
        assert torch.equal(img[img_row[a]], img[img_row[b]])
        for t in range(len(txt)):
            s = (txt[t:t + 1] @ img.t())[0]
            assert s[img_row[a]] == s[img_row[b]]
    for a, b in ((100, 109), (103, 110), (111, 115)):
        for i in range(len(img)):
            s = (img[i:i + 1] @ txt.t())[0]
            assert s[txt_row[a]] == s[txt_row[b]]


def check(official, ours_by_layout, rankings):
    t2i, i2t = rankings
    assert t2i == official['t2i']
    assert {p['image_id']: p['text_ids'] for p in official['i2t']} == i2t
    for layout, ours in ours_by_layout.items():
        for key, value in official.items():
            if key.startswith('retrieval/'):
                assert ours[key] == value, (layout, key, ours[key], value)
    # not vacuous: the duplicates rank in gallery (string) order: 12 < 3
    for pred in official['t2i']:
        ids = pred['image_ids']
        if 3 in ids:
            assert ids.index(12) + 1 == ids.index(3)
    assert 0 < official['retrieval/t2i_R@1'] < 100


@pytest.mark.slow
def test_rn50_matches_official_scripts(data, tmp_path):
    official = build_official('RN50')
    ckpt = save_official(official, str(tmp_path / 'rn50.pt'), half=True)
    ref = official_pipeline(data, str(tmp_path), ckpt, 'RN50',
                            'RBT3-chinese')
    official_ties_are_exact(str(tmp_path))
    config = CONFIG.format('resnet50')
    ours = {layout: our_metrics(config, ckpt, data, str(tmp_path), layout)
            for layout in ('tsv', 'lmdb')}
    check(ref, ours, our_rankings(config, ckpt, data, {}))


def test_tiny_vit_matches_official_scripts(data, tmp_path):
    # the scripts accept official names only: the copy's ViT-B-32 and RBT3
    # configs get the toy sizes
    site = cn_clip_with_configs(str(tmp_path / 'site'), {
        'ViT-B-32': TINY_VIT_JSON, 'RBT3-chinese': TINY_TEXT_JSON})
    official = tiny_official()
    ckpt = save_official(official, str(tmp_path / 'tiny.pt'), half=True)
    ref = official_pipeline(data, str(tmp_path), ckpt, 'ViT-B-32',
                            'RBT3-chinese', site=site)
    official_ties_are_exact(str(tmp_path))
    config = tmp_path / 'tiny_retrieval.py'
    config.write_text(
        f"_base_ = [{CONFIG.format('vit-base-p16')!r}]\n"
        f"model = dict(_delete_=True, **{tiny_config()!r})\n")
    scale = ['test_dataloader.dataset.pipeline.1.scale=56']
    ours = {layout: our_metrics(str(config), ckpt, data, str(tmp_path),
                                layout, scale)
            for layout in ('tsv', 'lmdb')}
    check(ref, ours, our_rankings(
        str(config), ckpt, data,
        {'test_dataloader.dataset.pipeline.1.scale': 56}))
