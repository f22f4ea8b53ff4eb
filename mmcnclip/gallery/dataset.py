"""Decoding the photos for indexing, in DataLoader workers.

A file that cannot be read does not stop the run: its item carries the
error message instead of pixels and the indexer records it.
"""
import os.path as osp
from typing import List, Sequence, Tuple

import torch
from mmengine.dataset import Compose
from torch.utils.data import Dataset

from mmcnclip.registry import TRANSFORMS


class PhotoFiles(Dataset):
    """Database rows -> ``(id, pixels, width, height, error)``.

    Args:
        root (str): The photo folder.
        rows (Sequence[tuple]): ``(id, relative path)`` to decode.
        pipeline (list[dict]): Transforms from ``img_path`` to a packed
            ``inputs`` tensor (the config's test pipeline, starting with
            ``LoadImagePIL``).
    """

    def __init__(self, root: str, rows: Sequence[Tuple[int, str]],
                 pipeline: List[dict]):
        self.root, self.rows = root, list(rows)
        self.pipeline = Compose([TRANSFORMS.build(t) for t in pipeline])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple:
        image_id, rel = self.rows[i]
        results = dict(img_path=osp.join(self.root, rel))
        try:
            packed = self.pipeline(results)
            if packed is None or packed.get('inputs') is None:
                raise ValueError('the pipeline dropped the image')
        except Exception as e:  # any decoding error: listed, not fatal
            return image_id, None, 0, 0, f'{type(e).__name__}: {e}'
        height, width = results['ori_shape']
        return image_id, packed['inputs'], width, height, None


def collate_photos(items: Sequence[tuple]) -> dict:
    """Stack the decoded images of a batch; keep the failures apart.

    Returns:
        dict: ``encoded`` ``[(id, width, height)]``, ``pixels`` (B, 3, H, W)
        or None, and ``failed`` ``[(id, message)]``.
    """
    good = [it for it in items if it[4] is None]
    return dict(
        encoded=[(i, w, h) for i, _, w, h, _ in good],
        pixels=torch.stack([it[1] for it in good]) if good else None,
        failed=[(it[0], it[4]) for it in items if it[4] is not None])
