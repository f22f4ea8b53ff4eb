"""Write tiny CIFAR archives in the exact python-pickle layout (no download).

Shared with ``tests/test_tools`` (import ``test_datasets.cifar_files``).
"""
import os
import pickle

import numpy as np

CIFAR10_FILES = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']


def _batch(rng, n, num_classes, label_key, name):
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(x) for x in rng.integers(0, num_classes, n)]
    entry = {'batch_label': name, label_key: labels, 'data': data,
             'filenames': [f'img_{i}.png' for i in range(n)]}
    if label_key == 'fine_labels':
        entry['coarse_labels'] = [x // 5 for x in labels]
    return entry


def _dump(path, obj):
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=2)  # the CIFAR pickles are protocol 2


def write_cifar10(root, n_per_batch=2, n_test=4, seed=0):
    """Write ``root/cifar-10-batches-py``; return {file name: batch dict}."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, 'cifar-10-batches-py')
    os.makedirs(folder, exist_ok=True)
    _dump(os.path.join(folder, 'batches.meta'),
          {'label_names': [f'c{i}' for i in range(10)],
           'num_cases_per_batch': n_per_batch, 'num_vis': 3072})
    batches = {}
    for name in CIFAR10_FILES:
        n = n_test if name == 'test_batch' else n_per_batch
        batches[name] = _batch(rng, n, 10, 'labels', name)
        _dump(os.path.join(folder, name), batches[name])
    return batches


def write_cifar100(root, n_train=6, n_test=5, seed=0, test_labels=None):
    """Write ``root/cifar-100-python``; return {file name: batch dict}.

    ``test_labels`` (list[int], optional) replaces the random test labels.
    """
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, 'cifar-100-python')
    os.makedirs(folder, exist_ok=True)
    _dump(os.path.join(folder, 'meta'),
          {'fine_label_names': [f'f{i}' for i in range(100)],
           'coarse_label_names': [f'c{i}' for i in range(20)]})
    batches = {'train': _batch(rng, n_train, 100, 'fine_labels', 'train'),
               'test': _batch(rng, n_test, 100, 'fine_labels', 'test')}
    if test_labels is not None:
        assert len(test_labels) == n_test
        batches['test']['fine_labels'] = [int(x) for x in test_labels]
    for name, entry in batches.items():
        _dump(os.path.join(folder, name), entry)
    return batches


def rgb_images(entry):
    """The (N, 32, 32, 3) RGB images of a batch dict."""
    return entry['data'].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
