"""ZeroShotImageFolder follows torchvision's ImageFolder (the official
zero-shot evaluation) and the label file."""
import numpy as np
import pytest
import torch
from PIL import Image

from mmcnclip.datasets import ZeroShotImageFolder
from mmcnclip.models.data_preprocessor import CLIP_MEAN, CLIP_STD
from mmcnclip.registry import DATASETS

NAMES = ['猫', '狗', '汽车']


def _image(path, seed, mode='RGB'):
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (9, 13, 3), dtype=np.uint8))
    if mode == 'RGBA':
        img.putalpha(100)
    elif mode == 'P':
        img = img.convert('P', palette=Image.ADAPTIVE, colors=16)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def _make(root, dirs=('000', '001', '002'), names=NAMES):
    """Tiny ELEVATER-style dataset; class 001 has a nested image and a
    non-image file, class 002 palette/RGBA images."""
    for i, d in enumerate(dirs):
        _image(root / 'test' / d / 'b.jpg', 10 * i)
        _image(root / 'test' / d / 'A.PNG', 10 * i + 1,
               mode='RGBA' if i == 2 else 'RGB')
    _image(root / 'test' / dirs[1] / 'sub' / 'c.png', 99, mode='P')
    (root / 'test' / dirs[1] / 'notes.txt').write_text('x')
    (root / 'label_cn.txt').write_text('\n'.join(names) + '\n',
                                       encoding='utf-8')


def test_matches_torchvision_image_folder(tmp_path):
    datasets = pytest.importorskip('torchvision.datasets')
    clip_utils = pytest.importorskip('cn_clip.clip.utils')
    _make(tmp_path)
    ds = DATASETS.build(dict(type='mmcnclip.ZeroShotImageFolder',
                             data_root=str(tmp_path)))
    official = datasets.ImageFolder(
        str(tmp_path / 'test'), transform=clip_utils.image_transform(20))
    assert ds.metainfo['classes'] == tuple(NAMES)
    assert [(d['img_path'], d['gt_label']) for d in
            (ds.get_data_info(i) for i in range(len(ds)))] == \
        [(p, t) for p, t in official.samples]
    assert len(ds) == 7

    # The pipeline of the zero-shot configs gives the official tensors.
    ds = ZeroShotImageFolder(
        str(tmp_path), pipeline=[
            dict(type='mmcnclip.LoadImagePIL', convert_rgb=True),
            dict(type='mmcnclip.PILResize', scale=20),
            dict(type='PackInputs')])
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    for i in range(len(ds)):
        packed = ds[i]
        expected, target = official[i]
        ours = (packed['inputs'] / 255 - mean) / std
        torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)
        assert packed['data_samples'].gt_label.item() == target


def test_sorted_dirs_map_to_label_lines(tmp_path):
    _make(tmp_path, dirs=('b_dog', 'a_cat', 'c_car'))
    ds = ZeroShotImageFolder(str(tmp_path))
    by_dir = {d['img_path'].split('/test/')[1].split('/')[0]: d['gt_label']
              for d in (ds.get_data_info(i) for i in range(len(ds)))}
    assert by_dir == {'a_cat': 0, 'b_dog': 1, 'c_car': 2}


def test_classes_instead_of_label_file(tmp_path):
    _make(tmp_path)
    (tmp_path / 'label_cn.txt').unlink()
    with pytest.raises(FileNotFoundError, match='label_cn.txt'):
        ZeroShotImageFolder(str(tmp_path))
    ds = ZeroShotImageFolder(str(tmp_path), label_file=None,
                             classes=['x', 'y', 'z'])
    assert ds.metainfo['classes'] == ('x', 'y', 'z')
    with pytest.raises(ValueError, match='exactly one'):
        ZeroShotImageFolder(str(tmp_path), classes=['x', 'y', 'z'])


def test_errors(tmp_path):
    _make(tmp_path, names=NAMES + ['多余'])
    with pytest.raises(ValueError, match='3 class directories.*4 classes'):
        ZeroShotImageFolder(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='val'):
        ZeroShotImageFolder(str(tmp_path), split='val')
    (tmp_path / 'label_cn.txt').write_text('\n'.join(NAMES + ['空']),
                                           encoding='utf-8')
    (tmp_path / 'test' / '003').mkdir()
    with pytest.raises(FileNotFoundError, match='003'):
        ZeroShotImageFolder(str(tmp_path))


def test_unpadded_numeric_dirs_warn(tmp_path):
    dirs = [str(i) for i in range(11)]
    for d in dirs:
        _image(tmp_path / 'test' / d / 'a.jpg', 0)
    (tmp_path / 'label_cn.txt').write_text(
        '\n'.join(f'类{d}' for d in dirs), encoding='utf-8')
    with pytest.warns(UserWarning, match='string order'):
        ds = ZeroShotImageFolder(str(tmp_path))
    # Like ImageFolder: '10' sorts before '2' and gets index 2.
    assert ds.get_data_info(2)['img_path'].endswith('/10/a.jpg')
