"""A plain jsonl of image paths and captions."""
import json
import os.path as osp

from mmcnclip.registry import DATASETS
from mmcnclip.text import normalize_text
from .base import ImageTextRetrievalBase
from .records import BadRowError


@DATASETS.register_module()
class ImageTextJsonl(ImageTextRetrievalBase):
    """One image per line: ``{"image": path, "captions": [..]}`` (or
    ``"caption": str``), paths relative to ``data_prefix``.

    Image ids are the line's ``image_id`` when given, else the path; text
    ids count captions from 0. Images are read by ``mmcnclip.LoadImagePIL``
    from ``img_path``, so put it first in the pipeline.

    Args:
        ann_file (str): The jsonl file.
        data_prefix (str): Folder of the images. Defaults to ''.
        skip_bad_rows (bool): See :class:`ImageTextRetrievalBase`.
        **kwargs: ``data_root``, ``pipeline``, ``test_mode``... of
            ``BaseDataset``.
    """

    def __init__(self, ann_file: str, data_prefix: str = '', **kwargs):
        super().__init__(ann_file=ann_file,
                         data_prefix=dict(img_path=data_prefix), **kwargs)

    def load_records(self):
        prefix = self.data_prefix.get('img_path', '')
        images, texts = {}, []
        with open(self.ann_file, encoding='utf-8') as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f'{self.ann_file}, line {lineno}'
                try:
                    obj = json.loads(line)
                    path = obj['image']
                    caps = obj.get('captions', obj.get('caption'))
                    caps = [caps] if isinstance(caps, str) else list(caps)
                    if not isinstance(path, str) or not caps or \
                            not all(isinstance(c, str) for c in caps):
                        raise ValueError('need "image" and "captions"')
                except (ValueError, KeyError, TypeError) as err:
                    self._checker.bad(self.ann_file,
                                      f'{where}: bad record ({err!r})')
                    continue
                image_id = obj.get('image_id', path)
                if isinstance(image_id, bool) or not isinstance(
                        image_id, (str, int)):
                    self._checker.bad(
                        self.ann_file, f'{where}: image_id must be a string '
                        f'or an integer, got {image_id!r}')
                    continue
                full = self.join(prefix, path)
                if image_id in images:
                    self._checker.bad(self.ann_file, f'{where}: duplicate '
                                      f'image {image_id!r}')
                    continue
                if not osp.isfile(full):
                    self._checker.bad(self.ann_file,
                                      f'{where}: missing image {full}')
                    continue
                images[image_id] = full
                for cap in caps:
                    texts.append(dict(text_id=len(texts),
                                      text=normalize_text(cap),
                                      image_ids=[image_id]))
        return images, texts

    def load_image(self, source) -> dict:
        if not osp.isfile(source):
            raise BadRowError(f'Missing image {source}')
        return dict(img_path=source)
