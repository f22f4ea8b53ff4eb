"""Zero-shot classification folders of ELEVATER (Chinese) and ImageNet-CN.

Layout (as in the Chinese-CLIP zero-shot dataset docs)::

    data_root/
    ├── label_cn.txt      # one Chinese class name per line, index order
    └── test/             # the split
        ├── 000/          # class directories; sorted names give indices
        │   ├── a.jpg
        │   └── ...
        └── 001/

The official evaluation reads the split with torchvision's ``ImageFolder``,
which sorts the class directory names and numbers them in that order; the
i-th sorted directory is the i-th line of the label file. The images of a
class are found the same way (recursive, sorted, same extensions).
"""
import os
import os.path as osp
import warnings
from typing import List, Optional, Sequence, Union

from mmcnclip.registry import DATASETS
from mmcnclip.text import get_classnames
from mmpretrain.datasets import BaseDataset

#: File extensions torchvision's ``ImageFolder`` accepts (case-insensitive).
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


def find_class_dirs(root: str) -> List[str]:
    """Sorted names of the class directories of ``root``.

    Args:
        root (str): A split directory.

    Returns:
        list[str]: Directory names sorted like ``ImageFolder`` sorts them.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'Split directory not found: {root}')
    names = sorted(e.name for e in os.scandir(root) if e.is_dir())
    if not names:
        raise FileNotFoundError(f'No class directories in {root}')
    if all(n.isdigit() for n in names) and \
            names != sorted(names, key=int):
        warnings.warn(
            f'Class directories of {root} are numbers without zero padding '
            f'({names[:3]}...): like the official ImageFolder, their '
            'string order (not their numeric value) gives the label index.')
    return names


def list_images(class_dir: str) -> List[str]:
    """Image files under ``class_dir`` (recursive), in ImageFolder order.

    Args:
        class_dir (str): A class directory.

    Returns:
        list[str]: Paths of the images.
    """
    paths = []
    for root, _, files in sorted(os.walk(class_dir, followlinks=True)):
        paths.extend(
            osp.join(root, f) for f in sorted(files)
            if f.lower().endswith(IMG_EXTENSIONS))
    return paths


@DATASETS.register_module()
class ZeroShotImageFolder(BaseDataset):
    """A split of an ELEVATER / ImageNet-CN style image folder.

    Kept instead of mmpretrain's ``CustomDataset(data_root,
    data_prefix=split, classes=label_file)``: measured by
    ``tools/misc/library_alternatives.py``, that one drops the ``.webp`` and
    ``.tiff`` images torchvision's ``ImageFolder`` (the official evaluation)
    counts, orders a class folder's own files after those of its
    sub-folders (ImageFolder: before) and only warns on empty classes.

    Samples have ``img_path`` and ``gt_label``; ``metainfo['classes']``
    holds the class names from the label file.

    Args:
        data_root (str): The dataset directory.
        split (str): Sub-directory with the class directories. Defaults to
            ``'test'``.
        label_file (str, optional): Class-name file, one per line in index
            order; relative paths are taken under ``data_root``. Defaults to
            ``'label_cn.txt'``.
        classes (str | Sequence[str], optional): Class names instead of a
            label file (anything :func:`mmcnclip.text.get_classnames`
            accepts, e.g. ``'imagenet'``); needs ``label_file=None``.
            Defaults to None.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``
            (``pipeline``, ``test_mode``, ``indices``...).
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'test',
                 label_file: Optional[str] = 'label_cn.txt',
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 **kwargs):
        if (label_file is None) == (classes is None):
            raise ValueError('ZeroShotImageFolder needs exactly one of '
                             '`label_file` and `classes` (set '
                             'label_file=None to pass classes)')
        if label_file is not None:
            self.label_source = label_file if osp.isabs(label_file) else \
                osp.join(data_root, label_file)
            if not osp.isfile(self.label_source):
                raise FileNotFoundError(
                    f'Label file not found: {self.label_source} (one class '
                    'name per line, e.g. label_cn.txt of the Chinese-CLIP '
                    'zero-shot datasets)')
            classes = get_classnames(self.label_source)
        else:
            self.label_source = 'classes'
            classes = get_classnames(classes)
        self.split = split
        super().__init__(
            ann_file='',
            data_root=data_root,
            data_prefix=split,
            classes=classes,
            **kwargs)

    def check_files(self) -> None:
        """Raise ``FileNotFoundError`` unless the split directory has
        class directories (the label file is checked when built)."""
        find_class_dirs(self.data_prefix['img_path'])

    def load_data_list(self) -> List[dict]:
        """List the images of the split with their label indices."""
        root = self.data_prefix['img_path']
        dirs = find_class_dirs(root)
        num_classes = len(self.metainfo['classes'])
        if len(dirs) != num_classes:
            raise ValueError(
                f'{root} has {len(dirs)} class directories but '
                f'{self.label_source} names {num_classes} classes; they must '
                'match one to one (sorted directory i = line i)')
        samples = []
        for label, name in enumerate(dirs):
            paths = list_images(osp.join(root, name))
            if not paths:
                raise FileNotFoundError(
                    f'No image ({", ".join(IMG_EXTENSIONS)}) in class '
                    f'directory {osp.join(root, name)}')
            samples.extend(dict(img_path=p, gt_label=label) for p in paths)
        return samples

    def extra_repr(self) -> List[str]:
        """Extra lines of ``repr``."""
        return [f'Split: \t{self.split}', f'Root: \t{self.data_root}',
                f'Class names: \t{self.label_source}']
