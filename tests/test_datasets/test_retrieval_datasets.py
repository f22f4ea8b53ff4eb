"""Retrieval datasets on generated official-format files (incl. corrupt
rows) and the LMDB built by the official cn_clip script."""
import base64
import io
import json
import os.path as osp
import pickle
import sys

import numpy as np
import pytest
from helpers.processes import run
from PIL import Image

from mmcnclip.datasets.retrieval import (BadRowError, CNCLIPLmdbRetrieval,
                                         CNCLIPTsvRetrieval, ImageTextJsonl)
from mmcnclip.datasets.transforms.loading import ImageDecodeError

PIPELINE = [dict(type='mmcnclip.LoadImagePIL'),
            dict(type='mmcnclip.PILResize', scale=8),
            dict(type='mmcnclip.PackImageText')]


def png(colour, size=6):
    buf = io.BytesIO()
    Image.new('RGB', (size, size), colour).save(buf, format='PNG')
    return buf.getvalue()


def b64(colour):
    return base64.urlsafe_b64encode(png(colour)).decode()


COLOURS = {1: (255, 0, 0), 2: (0, 255, 0), 3: (0, 0, 255)}
TEXTS = [dict(text_id=10, text='红色的“图”', image_ids=[1]),
         dict(text_id=11, text='绿色或蓝色', image_ids=[2, 3])]


def write(root, split='valid', img_rows=(), txt_rows=()):
    img_lines = [f'{i}\t{b64(c)}' for i, c in COLOURS.items()]
    txt_lines = [json.dumps(t, ensure_ascii=False) for t in TEXTS]
    with open(osp.join(root, f'{split}_imgs.tsv'), 'w') as f:
        f.write('\n'.join(img_lines + list(img_rows)) + '\n')
    with open(osp.join(root, f'{split}_texts.jsonl'), 'w') as f:
        f.write('\n'.join(txt_lines + list(txt_rows)) + '\n')
    return str(root)


def test_tsv_test_mode_galleries(tmp_path):
    ds = CNCLIPTsvRetrieval(write(tmp_path), test_mode=True,
                            pipeline=PIPELINE)
    assert (ds.num_images, ds.num_texts, len(ds)) == (3, 2, 5)
    for k, (iid, colour) in enumerate(COLOURS.items()):
        item = ds[k]
        assert item['data_samples'].image_id == iid
        assert 'text' not in item['data_samples']
        # RGB uint8 CHW, colour preserved
        assert item['inputs'].shape == (3, 8, 8)
        assert tuple(item['inputs'][:, 0, 0].tolist()) == colour
    txt = ds[3]
    assert txt['inputs'] is None
    assert txt['data_samples'].text == '红色的"图"'  # official normalisation
    assert ds[4]['data_samples'].gt_image_ids == [2, 3]


def test_tsv_train_mode_pairs(tmp_path):
    ds = CNCLIPTsvRetrieval(write(tmp_path), pipeline=PIPELINE)
    pairs = [(ds[i]['data_samples'].image_id, ds[i]['data_samples'].text_id)
             for i in range(len(ds))]
    assert pairs == [(1, 10), (2, 11), (3, 11)]
    assert ds[1]['inputs'][1, 0, 0] == 255


@pytest.mark.parametrize('kind, rows, where', [
    ('img', ['4\tnot-base64!!'], 'valid_imgs.tsv, row 4'),
    ('img', ['5'], 'valid_imgs.tsv, row 4'),
    ('img', [f'1\t{b64((1, 1, 1))}'], 'duplicate image id 1'),
    ('txt', ['{"text_id": 12, "text": "x"'], 'valid_texts.jsonl, line 3'),
    ('txt', ['{"text_id": 12, "text": "x"}'], 'valid_texts.jsonl, line 3'),
    ('txt', ['{"text_id": 12, "text": "x", "image_ids": [9]}'],
     'unknown image ids [9]'),
])
def test_tsv_bad_rows(tmp_path, kind, rows, where):
    root = write(tmp_path, **{f'{kind}_rows': rows})
    with pytest.raises(BadRowError, match=where.replace('[', r'\[')
                       .replace(']', r'\]')):
        CNCLIPTsvRetrieval(root, test_mode=True)
    ds = CNCLIPTsvRetrieval(root, test_mode=True, skip_bad_rows=True)
    assert (ds.num_images, ds.num_texts) == (3, 2)


def test_tsv_undecodable_image_found_lazily(tmp_path):
    junk = base64.urlsafe_b64encode(b'not an image').decode()
    root = write(tmp_path, split='train', img_rows=[f'7\t{junk}'],
                 txt_rows=['{"text_id": 12, "text": "x", "image_ids": [7]}'])
    ds = CNCLIPTsvRetrieval(root, split='train', verify_images=False,
                            pipeline=PIPELINE)
    assert len(ds) == 4
    with pytest.raises(BadRowError, match=r'train_imgs.tsv, row 4'):
        ds.prepare_data(3)
    skipping = CNCLIPTsvRetrieval(root, split='train', verify_images=False,
                                  skip_bad_rows=True, pipeline=PIPELINE)
    assert skipping.prepare_data(3) is None  # BaseDataset draws another
    assert skipping[3]['data_samples'].image_id in COLOURS


def _official_lmdb(tmp_path):
    pytest.importorskip('lmdb')
    pytest.importorskip('cn_clip')
    root = write(tmp_path)
    run([sys.executable, '-m', 'cn_clip.preprocess.build_lmdb_dataset',
         '--data_dir', root, '--splits', 'valid'])
    return osp.join(root, 'lmdb', 'valid')


def test_lmdb_matches_tsv(tmp_path):
    lmdb_root = _official_lmdb(tmp_path)
    for test_mode in (True, False):
        a = CNCLIPLmdbRetrieval(lmdb_root, test_mode=test_mode,
                                pipeline=PIPELINE)
        b = CNCLIPTsvRetrieval(str(tmp_path), test_mode=test_mode,
                               pipeline=PIPELINE)
        assert len(a) == len(b)
        for i in range(len(a)):
            x, y = a[i], b[i]
            assert x['data_samples'].to_dict() == y['data_samples'].to_dict()
            if y['inputs'] is None:
                assert x['inputs'] is None
            else:
                assert np.array_equal(x['inputs'], y['inputs'])


def test_lmdb_rejects_pickled_objects_and_unknown_images(tmp_path):
    import lmdb
    root = _official_lmdb(tmp_path)
    env = lmdb.open(osp.join(root, 'pairs'), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b'3', pickle.dumps((np.int64(1), 12, 'x')))  # a global
        txn.put(b'4', pickle.dumps((99, 13, 'y')))
        txn.put(b'num_samples', b'5')
    env.close()
    with pytest.raises(BadRowError, match=r'pairs, pair 3.*refusing'):
        CNCLIPLmdbRetrieval(root, test_mode=True)
    ds = CNCLIPLmdbRetrieval(root, test_mode=True, skip_bad_rows=True)
    assert (ds.num_images, ds.num_texts) == (3, 2)
    with pytest.raises(FileNotFoundError,
                       match=r'missing .*imgs \(LMDB directory'):
        CNCLIPLmdbRetrieval(str(tmp_path))


def test_missing_files_say_where_and_how(tmp_path):
    """The message names the file, the data_root and where to get it, and
    ``check_files`` finds it without reading anything (lazy_init)."""
    ds = CNCLIPTsvRetrieval(str(tmp_path), split='train', lazy_init=True,
                            pipeline=PIPELINE)
    for check in (ds.check_files, ds.full_init):
        with pytest.raises(FileNotFoundError) as info:
            check()
        text = str(info.value)
        assert osp.join(str(tmp_path), 'train_texts.jsonl') in text
        assert 'OFA-Sys/Chinese-CLIP' in text and 'data_root' in text


def test_plain_jsonl(tmp_path):
    for name, colour in (('a.png', (255, 0, 0)), ('b.png', (0, 0, 255))):
        Image.new('RGB', (5, 5), colour).save(tmp_path / name)
    ann = tmp_path / 'ann.jsonl'
    ann.write_text('\n'.join([
        json.dumps({'image': 'a.png', 'captions': ['红', '赤']}),
        json.dumps({'image': 'b.png', 'caption': '蓝'}),
        json.dumps({'image': 'missing.png', 'caption': '无'}),
    ]) + '\n', encoding='utf-8')
    with pytest.raises(BadRowError, match=r'ann.jsonl, line 3: missing'):
        ImageTextJsonl(str(ann), data_prefix=str(tmp_path), test_mode=True)
    ds = ImageTextJsonl(str(ann), data_prefix=str(tmp_path), test_mode=True,
                        skip_bad_rows=True, pipeline=PIPELINE)
    assert (ds.num_images, ds.num_texts) == (2, 3)
    assert ds[0]['inputs'][0, 0, 0] == 255 and ds[1]['inputs'][2, 0, 0] == 255
    assert [ds[i]['data_samples'].gt_image_ids for i in (2, 3, 4)] == \
        [['a.png'], ['a.png'], ['b.png']]
    train = ImageTextJsonl(str(ann), data_prefix=str(tmp_path),
                           skip_bad_rows=True, pipeline=PIPELINE)
    assert [train[i]['data_samples'].text for i in range(3)] == \
        ['红', '赤', '蓝']


def test_config_switches_to_lmdb_with_the_type_only(tmp_path):
    """``--cfg-options test_dataloader.dataset.type=...Lmdb...`` on a tsv
    config reads ``{data_root}/lmdb/{split}``."""
    from mmengine.config import Config

    from mmcnclip.registry import DATASETS
    _official_lmdb(tmp_path)
    cfg = Config.fromfile(osp.join(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
        'configs', 'cn-clip_resnet50_retrieval_muge-test.py'))
    cfg.merge_from_dict({
        'test_dataloader.dataset.type': 'mmcnclip.CNCLIPLmdbRetrieval',
        'test_dataloader.dataset.data_root': str(tmp_path)})
    ds = DATASETS.build(cfg.test_dataloader.dataset)
    assert isinstance(ds, CNCLIPLmdbRetrieval)
    assert ds.lmdb_root == osp.join(str(tmp_path), 'lmdb', 'valid')
    assert (ds.num_images, ds.num_texts) == (3, 2)
    assert ds[4]['data_samples'].gt_image_ids == [2, 3]


def bomb_png() -> bytes:
    """A 15000x15000 PNG (27 KB): over PIL's decompression bomb limit."""
    buf = io.BytesIO()
    Image.new('1', (15000, 15000)).save(buf, format='PNG')
    return buf.getvalue()


@pytest.mark.parametrize('verify', [True, False])
def test_tsv_decompression_bomb_is_a_bad_row(tmp_path, verify):
    bomb = base64.urlsafe_b64encode(bomb_png()).decode()
    root = write(tmp_path, split='train', img_rows=[f'7\t{bomb}'],
                 txt_rows=['{"text_id": 12, "text": "x", "image_ids": [7]}'])
    kwargs = dict(split='train', verify_images=verify, pipeline=PIPELINE)
    if verify:
        with pytest.raises(BadRowError, match=r'train_imgs.tsv, row 4: '
                           'too large .*decompression bomb'):
            CNCLIPTsvRetrieval(root, **kwargs)
    else:
        with pytest.raises(BadRowError, match=r'train_imgs.tsv, row 4'):
            CNCLIPTsvRetrieval(root, **kwargs).prepare_data(3)
    ds = CNCLIPTsvRetrieval(root, skip_bad_rows=True, **kwargs)
    assert all(ds[i]['data_samples'].image_id in COLOURS
               for i in range(len(ds)))


def test_jsonl_truncated_image_is_skipped_in_training(tmp_path):
    Image.new('RGB', (5, 5), (255, 0, 0)).save(tmp_path / 'a.png')
    Image.new('RGB', (64, 64), (0, 0, 255)).save(tmp_path / 'b.jpg')
    data = (tmp_path / 'b.jpg').read_bytes()
    (tmp_path / 'b.jpg').write_bytes(data[:len(data) // 2])
    ann = tmp_path / 'ann.jsonl'
    ann.write_text(json.dumps({'image': 'a.png', 'caption': '红'}) + '\n' +
                   json.dumps({'image': 'b.jpg', 'caption': '蓝'}) + '\n')
    ds = ImageTextJsonl(str(ann), data_prefix=str(tmp_path),
                        skip_bad_rows=True, pipeline=PIPELINE)
    assert ds.prepare_data(1) is None
    assert ds[1]['data_samples'].image_id == 'a.png'  # another pair
    strict = ImageTextJsonl(str(ann), data_prefix=str(tmp_path),
                            pipeline=PIPELINE)
    with pytest.raises(ImageDecodeError, match=str(tmp_path / 'b.jpg')):
        strict.prepare_data(1)


@pytest.mark.parametrize('image_id', [[1], {'a': 1}, None, True, 1.5])
def test_jsonl_image_id_of_another_type(tmp_path, image_id):
    Image.new('RGB', (5, 5)).save(tmp_path / 'a.png')
    ann = tmp_path / 'ann.jsonl'
    ann.write_text(json.dumps({'image': 'a.png', 'caption': '红'}) + '\n' +
                   json.dumps({'image': 'a.png', 'caption': '蓝',
                               'image_id': image_id}) + '\n')
    with pytest.raises(BadRowError, match=r'ann.jsonl, line 2: image_id '
                       'must be a string or an integer'):
        ImageTextJsonl(str(ann), data_prefix=str(tmp_path), test_mode=True)
    ds = ImageTextJsonl(str(ann), data_prefix=str(tmp_path), test_mode=True,
                        skip_bad_rows=True, pipeline=PIPELINE)
    assert (ds.num_images, ds.num_texts) == (1, 1)
