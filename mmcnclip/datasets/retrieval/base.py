"""Shared logic of the image-text retrieval datasets."""
import logging
import os.path as osp
from typing import List, Optional

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmpretrain.datasets.transforms import PackInputs

from mmcnclip.registry import TRANSFORMS
from ..transforms.loading import ImageDecodeError
from .records import BadRowError, RowChecker


class ImageTextRetrievalBase(BaseDataset):
    """Image-text pairs (train) or separate image and text galleries (test).

    * ``test_mode=False``: one item per (image, caption) pair, in the order
      of the official LMDB ``pairs`` (each text, then each of its images):
      ``img`` (a PIL image, or ``img_path``), ``text``, ``image_id``,
      ``text_id``.
    * ``test_mode=True``: first every gallery image (``img``/``img_path``
      and ``image_id``), then every text (``text``, ``text_id`` and
      ``gt_image_ids``): the layout :class:`mmcnclip.ImageTextRecall`
      expects. Use it with ``mmcnclip.PackImageText`` and the default
      ``pseudo_collate``.

    Subclasses implement :meth:`load_records` and :meth:`load_image`.

    Args:
        skip_bad_rows (bool): Skip rows that cannot be used (counted in the
            log) instead of raising an error naming the file and row.
            Defaults to False.
        **kwargs: Arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self, skip_bad_rows: bool = False, **kwargs):
        self.skip_bad_rows = skip_bad_rows
        self._checker = RowChecker(skip_bad_rows)
        # build here so that 'mmcnclip.X' and mmpretrain names both resolve
        kwargs['pipeline'] = [
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in kwargs.get('pipeline', ())
        ]
        super().__init__(**kwargs)

    def load_records(self):
        """Return ``(images, texts)``: ``images`` is a dict image id ->
        where to find it (passed to :meth:`load_image`) in gallery order;
        ``texts`` a list of ``dict(text_id, text, image_ids)``."""
        raise NotImplementedError

    def load_image(self, source) -> dict:
        """Return ``dict(img=PIL image)`` or ``dict(img_path=...)``; raise
        :class:`BadRowError` for an unusable image."""
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        images, texts = self.load_records()
        self._checker.report()
        if self.test_mode:
            items = [dict(image_id=i, image_source=src)
                     for i, src in images.items()]
            items += [dict(text_id=t['text_id'], text=t['text'],
                           gt_image_ids=t['image_ids']) for t in texts]
        else:
            items = [dict(image_id=i, image_source=images[i],
                          text_id=t['text_id'], text=t['text'])
                     for t in texts for i in t['image_ids']]
        self.num_images = len(images)
        self.num_texts = len(texts)
        if not items:
            raise ValueError(f'{type(self).__name__} found no usable data '
                             f'in {self._where()}')
        return items

    def _where(self) -> str:
        return self.ann_file or self.data_root

    def prepare_data(self, idx: int) -> Optional[dict]:
        info = self.get_data_info(idx)
        source = info.pop('image_source', None)
        if source is None:  # a text-only gallery item: just pack it
            for t in self.pipeline.transforms:
                if isinstance(t, PackInputs):
                    return t(info)
            raise ValueError(f'{type(self).__name__}: the pipeline needs a '
                             'packing transform (mmcnclip.PackImageText)')
        try:
            info.update(self.load_image(source))
            # Images given by path are decoded in the pipeline.
            return self.pipeline(info)
        except (BadRowError, ImageDecodeError) as err:
            if self.skip_bad_rows and not self.test_mode:
                print_log(f'Skipping a bad image: {err}', logger='current',
                          level=logging.WARNING)
                return None  # BaseDataset then draws another pair
            raise

    @staticmethod
    def join(root: str, path: str) -> str:
        return path if osp.isabs(path) or not root else osp.join(root, path)
