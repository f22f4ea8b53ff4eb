"""Checks that run before anything expensive is built (fail fast).

A missing checkpoint or dataset should be reported in a second, not after a
multi-GB model was built: the tools call these right after reading the
config.
"""
import os.path as osp
from typing import Optional

from mmcnclip.registry import DATASETS

#: Where the README lists the official checkpoints.
CHECKPOINT_HELP = (
    'The official Chinese-CLIP checkpoints (clip_cn_rn50.pt, '
    'clip_cn_vit-b-16.pt, clip_cn_vit-l-14.pt, clip_cn_vit-l-14-336.pt, '
    'clip_cn_vit-h-14.pt) are listed with their URLs in README.md '
    '"Checkpoints"; official .pt, Hugging Face and mmpretrain layouts all '
    'load.')


def check_checkpoint(path: Optional[str]) -> None:
    """Raise ``FileNotFoundError`` unless ``path`` is a URL or exists.

    Args:
        path (str, optional): A local file or Hugging Face folder, or a URL
            (``scheme://...``, checked when it is downloaded); None (no
            checkpoint given) passes.
    """
    if path is None or '://' in path:
        return
    full = osp.abspath(osp.expanduser(path))
    if not osp.exists(full):
        raise FileNotFoundError(
            f'checkpoint not found: {path} (looked for {full}). '
            f'{CHECKPOINT_HELP}')


def check_dataset(dataset_cfg) -> None:
    """Raise ``FileNotFoundError`` when the dataset's files are missing.

    The dataset is built with ``lazy_init=True`` (nothing is read) and its
    ``check_files()`` is called when it has one (mmcnclip's datasets do);
    others are left to fail when they load.

    Args:
        dataset_cfg (dict): The ``dataset`` of a dataloader config.
    """
    if not isinstance(dataset_cfg, dict) or 'type' not in dataset_cfg:
        return
    cls = DATASETS.get(dataset_cfg['type'])
    if not (isinstance(cls, type) and hasattr(cls, 'check_files')):
        return
    dataset = DATASETS.build(dict(dataset_cfg, lazy_init=True))
    dataset.check_files()
