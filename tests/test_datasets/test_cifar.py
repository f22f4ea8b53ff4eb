"""CIFAR10/CIFAR100 read the python pickles offline, as BGR arrays."""
import os
import pickle
import warnings

import numpy as np
import pytest
from test_datasets.cifar_files import (CIFAR10_FILES, rgb_images,
                                       write_cifar10, write_cifar100)

from mmcnclip.datasets import CIFAR10, CIFAR100
from mmcnclip.registry import DATASETS
from mmcnclip.text import get_classnames

PIPELINE = [dict(type='mmcnclip.LoadImagePIL'),
            dict(type='mmcnclip.PILResize', scale=32),
            dict(type='PackInputs')]


def test_cifar100_samples_are_bgr_and_pipeline_gives_rgb(tmp_path):
    batches = write_cifar100(str(tmp_path))
    for split in ('train', 'test'):
        ds = DATASETS.build(dict(type='mmcnclip.CIFAR100',
                                 data_root=str(tmp_path), split=split))
        assert isinstance(ds, CIFAR100)
        rgb = rgb_images(batches[split])
        assert len(ds) == len(rgb)
        assert ds.metainfo['classes'] == tuple(get_classnames('cifar100'))
        assert ds.get_gt_labels().tolist() == batches[split]['fine_labels']
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            assert info['img'].dtype == np.uint8
            np.testing.assert_array_equal(info['img'], rgb[i][..., ::-1])

    ds = CIFAR100(str(tmp_path), split='test', pipeline=PIPELINE)
    for i in range(len(ds)):
        packed = ds[i]
        # A same-size PIL resize is the identity: the model sees the RGB
        # pixels of the pickle, never BGR.
        np.testing.assert_array_equal(
            packed['inputs'].permute(1, 2, 0).numpy(), rgb_images(
                batches['test'])[i])
        assert packed['data_samples'].gt_label.item() == \
            batches['test']['fine_labels'][i]


def test_cifar10_all_batches(tmp_path):
    batches = write_cifar10(str(tmp_path))
    train = CIFAR10(str(tmp_path), split='train')
    expected = np.concatenate([rgb_images(batches[n]) for n in
                               CIFAR10_FILES[:-1]])
    assert len(train) == len(expected) == 10
    np.testing.assert_array_equal(
        np.stack([train.get_data_info(i)['img'] for i in range(10)]),
        expected[..., ::-1])
    assert train.get_gt_labels().tolist() == sum(
        (batches[n]['labels'] for n in CIFAR10_FILES[:-1]), [])
    test = DATASETS.build(dict(type='mmcnclip.CIFAR10',
                               data_root=str(tmp_path)))
    assert len(test) == 4 and test.split == 'test'
    assert list(test.metainfo['classes']) == get_classnames('cifar10')
    # Class names can be replaced (any get_classnames spec).
    custom = CIFAR10(str(tmp_path), classes=[f'类{i}' for i in range(10)])
    assert custom.metainfo['classes'][3] == '类3'


def test_numpy1_pickles_load(tmp_path):
    """The official archives were pickled by numpy 1 (numpy.core)."""
    batches = write_cifar10(str(tmp_path))
    path = tmp_path / 'cifar-10-batches-py' / 'test_batch'
    data = path.read_bytes()
    if b'numpy._core.multiarray' in data:
        path.write_bytes(data.replace(b'numpy._core.multiarray',
                                      b'numpy.core.multiarray'))
    assert b'numpy.core.multiarray' in path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        ds = CIFAR10(str(tmp_path))
    np.testing.assert_array_equal(ds.get_data_info(3)['img'],
                                  rgb_images(batches['test_batch'])[3, ...,
                                                                   ::-1])


def test_missing_files_explain_how_to_get_data(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        CIFAR100(str(tmp_path))
    assert os.path.join('cifar-100-python', 'meta') in str(e.value)
    assert 'cifar-100-python.tar.gz' in str(e.value)
    write_cifar10(str(tmp_path))
    os.remove(tmp_path / 'cifar-10-batches-py' / 'data_batch_3')
    CIFAR10(str(tmp_path), split='test')  # the test split is complete
    with pytest.raises(FileNotFoundError, match='data_batch_3'):
        CIFAR10(str(tmp_path), split='train')
    with pytest.raises(ValueError, match='split'):
        CIFAR10(str(tmp_path), split='val')


def test_bad_content_is_rejected(tmp_path):
    batches = write_cifar100(str(tmp_path))
    folder = tmp_path / 'cifar-100-python'

    class Evil:
        def __reduce__(self):
            return (os.system, ('echo pwned',))

    with open(folder / 'test', 'wb') as f:
        pickle.dump({'data': Evil()}, f, protocol=2)
    with pytest.raises(ValueError, match='Refusing.*system'):
        CIFAR100(str(tmp_path))

    entry = dict(batches['test'], fine_labels=[0, 1, 2, 3, 100])
    with open(folder / 'test', 'wb') as f:
        pickle.dump(entry, f, protocol=2)
    with pytest.raises(ValueError, match='label 100'):
        CIFAR100(str(tmp_path))

    entry = dict(batches['test'], data=batches['test']['data'][:, :100])
    with open(folder / 'test', 'wb') as f:
        pickle.dump(entry, f, protocol=2)
    with pytest.raises(ValueError, match=r'\(5, 100\)'):
        CIFAR100(str(tmp_path))

    # Configured class names must agree with the meta file.
    with pytest.raises(ValueError, match='100 classes'):
        CIFAR100(str(tmp_path), classes=['a', 'b'])
