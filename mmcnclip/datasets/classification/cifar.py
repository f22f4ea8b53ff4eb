"""CIFAR-10/100 from the standard python-pickle archives, offline.

Unlike mmpretrain's ``CIFAR10``/``CIFAR100`` these classes never download
and never check md5 sums: they read ``cifar-10-batches-py`` or
``cifar-100-python`` as extracted from the official tarballs. The pickles
are read with an unpickler that only accepts plain containers and numpy
arrays, so a tampered file cannot run code.

Samples carry ``img`` as a BGR ``uint8`` (32, 32, 3) array (the OpenMMLab
convention, so that :class:`~mmcnclip.datasets.transforms.LoadImagePIL`
treats every array alike) and ``gt_label``; ``metainfo['classes']`` holds
the Chinese class names of Chinese CLIP in dataset index order.
"""
import io
import os.path as osp
import pickle
from typing import List, Optional, Sequence, Union

import numpy as np

from mmcnclip.registry import DATASETS
from mmcnclip.text import get_classnames
from mmpretrain.datasets import BaseDataset

#: The only globals a CIFAR pickle may reference (numpy array rebuilding,
#: under numpy 1 and numpy 2 module names, and bytes from protocol 2).
_ALLOWED_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('_codecs', 'encode'),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler restricted to builtin containers and numpy arrays."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f'Refusing to load {module}.{name}: a CIFAR pickle holds '
                'only lists, dicts, strings and numpy arrays')
        return super().find_class(module, name)


def load_cifar_pickle(path: str) -> dict:
    """Read one CIFAR python pickle safely.

    Args:
        path (str): The pickle file.

    Returns:
        dict: Its content with ``str`` keys.

    Raises:
        ValueError: If the file is not a CIFAR pickle dict.
    """
    with open(path, 'rb') as f:
        data = f.read()
    try:
        entry = _ArrayUnpickler(io.BytesIO(data), encoding='latin1').load()
    except Exception as e:
        raise ValueError(f'{path} is not a readable CIFAR python pickle: '
                         f'{e}') from e
    if not isinstance(entry, dict):
        raise ValueError(f'{path} should hold a dict, got '
                         f'{type(entry).__name__}')
    return {k.decode() if isinstance(k, bytes) else k: v
            for k, v in entry.items()}


class _CIFAR(BaseDataset):
    """Shared loading of the CIFAR python archives (see module doc).

    Args:
        data_root (str): Directory that contains :attr:`base_folder`.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'test'``.
        classes (str | Sequence[str], optional): Class names: anything
            :func:`mmcnclip.text.get_classnames` accepts (a built-in set
            name, a label file, a list), or None for the built-in Chinese
            names of the dataset. Defaults to None.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``
            (``pipeline``, ``test_mode``, ``indices``...).
    """

    #: Name of the extracted archive directory.
    base_folder: str = ''
    #: File names of each split inside :attr:`base_folder`.
    split_files: dict = {}
    #: Meta file (class names in English) inside :attr:`base_folder`.
    meta_file: str = ''
    #: Key of the labels in the batch pickles.
    label_key: str = ''
    #: Name of the built-in Chinese class list.
    classnames: str = ''
    #: Where users get the archive.
    url: str = ''

    def __init__(self,
                 data_root: str,
                 split: str = 'test',
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 **kwargs):
        if split not in self.split_files:
            raise ValueError(f'{self.__class__.__name__} split must be one '
                             f'of {sorted(self.split_files)}, got {split!r}')
        self.split = split
        if classes is not None:
            classes = get_classnames(classes)
        elif 'classes' not in (kwargs.get('metainfo') or {}):
            classes = get_classnames(self.classnames)
        super().__init__(
            ann_file='', data_root=data_root, classes=classes, **kwargs)

    def _path(self, name: str) -> str:
        path = osp.join(self.data_root, self.base_folder, name)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{self.__class__.__name__}: missing {osp.abspath(path)}. '
                'Download '
                f'{self.url} and extract it under data_root '
                f'({self.data_root!r}) so that {self.base_folder}/ is there '
                '(mmcnclip never downloads data).')
        return path

    def check_files(self) -> None:
        """Raise ``FileNotFoundError`` (saying where to get them) unless
        the meta and split files are there; cheap, nothing is read."""
        for name in (self.meta_file, *self.split_files[self.split]):
            self._path(name)

    def load_data_list(self) -> List[dict]:
        """Read the split's pickles into samples with BGR ``img`` arrays."""
        num_classes = len(self.metainfo['classes'])
        meta = load_cifar_pickle(self._path(self.meta_file))
        names = meta.get(self.label_key.replace('labels', 'label_names'))
        if names is not None and len(names) != num_classes:
            raise ValueError(
                f'{self._path(self.meta_file)} lists {len(names)} classes '
                f'but {num_classes} class names are configured')
        samples = []
        for name in self.split_files[self.split]:
            path = self._path(name)
            entry = load_cifar_pickle(path)
            if 'data' not in entry or self.label_key not in entry:
                raise ValueError(f'{path} lacks "data" or '
                                 f'"{self.label_key}"; keys: {sorted(entry)}')
            data = np.asarray(entry['data'])
            labels = [int(x) for x in entry[self.label_key]]
            if data.dtype != np.uint8 or data.ndim != 2 or \
                    data.shape[1] != 3 * 32 * 32 or \
                    len(data) != len(labels):
                raise ValueError(
                    f'{path}: expected uint8 data of shape (N, 3072) and N '
                    f'labels, got {data.dtype} {data.shape} and '
                    f'{len(labels)} labels')
            bad = [x for x in labels if not 0 <= x < num_classes]
            if bad:
                raise ValueError(f'{path}: label {bad[0]} is outside '
                                 f'[0, {num_classes})')
            # Rows are planar RGB; flip the channel axis to BGR.
            imgs = data.reshape(-1, 3, 32, 32)[:, ::-1].transpose(0, 2, 3, 1)
            samples.extend(
                dict(img=np.ascontiguousarray(img), gt_label=label)
                for img, label in zip(imgs, labels))
        return samples

    def extra_repr(self) -> List[str]:
        """Extra lines of ``repr``."""
        return [f'Split: \t{self.split}', f'Root: \t{self.data_root}']


@DATASETS.register_module()
class CIFAR10(_CIFAR):
    """CIFAR-10 from ``data_root/cifar-10-batches-py`` (no download).

    Args:
        data_root (str): Directory that contains ``cifar-10-batches-py``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'test'``.
        classes (str | Sequence[str], optional): Class names, or None for
            ``get_classnames('cifar10')``. Defaults to None.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``.
    """

    base_folder = 'cifar-10-batches-py'
    split_files = dict(
        train=[f'data_batch_{i}' for i in range(1, 6)], test=['test_batch'])
    meta_file = 'batches.meta'
    label_key = 'labels'
    classnames = 'cifar10'
    url = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'


@DATASETS.register_module()
class CIFAR100(_CIFAR):
    """CIFAR-100 (fine labels) from ``data_root/cifar-100-python``.

    Args:
        data_root (str): Directory that contains ``cifar-100-python``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'test'``.
        classes (str | Sequence[str], optional): Class names, or None for
            ``get_classnames('cifar100')``. Defaults to None.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``.
    """

    base_folder = 'cifar-100-python'
    split_files = dict(train=['train'], test=['test'])
    meta_file = 'meta'
    label_key = 'fine_labels'
    classnames = 'cifar100'
    url = 'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz'
