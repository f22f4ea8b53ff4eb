"""The official Chinese-CLIP retrieval data: jsonl + tsv, and LMDB."""
import os.path as osp
from typing import Optional

from mmcnclip.registry import DATASETS
from mmcnclip.text import normalize_text
from .base import ImageTextRetrievalBase
from .records import (BadRowError, decode_base64_image, index_tsv,
                      lmdb_get, norm_id, open_lmdb,
                      read_texts_jsonl, read_tsv_image, safe_unpickle)


def missing_message(dataset, path: str, what: str) -> str:
    """One line: the missing file, where it was looked for, how to get
    it (the official MUGE / Flickr30K-CN / COCO-CN files)."""
    return (
        f'{type(dataset).__name__}: missing {osp.abspath(path)} ({what}, '
        f'data_root {dataset.data_root!r}). Get the official MUGE / '
        'Flickr30K-CN / COCO-CN files via the "Datasets" section of '
        'github.com/OFA-Sys/Chinese-CLIP and unzip them under data/datasets/,'
        ' or pass --cfg-options test_dataloader.dataset.data_root=DIR '
        '(mmcnclip never downloads data).')


@DATASETS.register_module()
class CNCLIPTsvRetrieval(ImageTextRetrievalBase):
    """``{split}_texts.jsonl`` + ``{split}_imgs.tsv`` (official format).

    ``{split}_texts.jsonl`` has one ``{"text_id", "text", "image_ids"}``
    per line; ``{split}_imgs.tsv`` one ``image_id<TAB>base64 image`` per
    row. Items are described in :class:`ImageTextRetrievalBase`. The image
    gallery is in the order of the official LMDB (and of the official
    feature files): image ids sorted as strings, so that tied scores rank
    like in ``cn_clip/eval``.

    Args:
        data_root (str): Folder with the files, e.g.
            ``data/datasets/MUGE``.
        split (str): ``train``, ``valid`` or ``test``. Defaults to
            ``'valid'``.
        verify_images (bool): Decode every image while loading so that
            undecodable rows are found (and skipped) up front; when False
            they raise (or, in training with ``skip_bad_rows``, are
            replaced) when read. Defaults to True.
        skip_bad_rows (bool): See :class:`ImageTextRetrievalBase`.
        **kwargs: ``pipeline``, ``test_mode``... of ``BaseDataset``.
    """

    def __init__(self, data_root: str, split: str = 'valid',
                 verify_images: bool = True, **kwargs):
        self.split = split
        self.verify_images = verify_images
        super().__init__(data_root=data_root, **kwargs)

    def check_files(self) -> None:
        """Raise ``FileNotFoundError`` (saying where to get them) unless
        ``{split}_texts.jsonl`` and ``{split}_imgs.tsv`` are there."""
        for name in ('texts.jsonl', 'imgs.tsv'):
            path = osp.join(self.data_root, f'{self.split}_{name}')
            if not osp.isfile(path):
                raise FileNotFoundError(missing_message(
                    self, path, f'split {self.split!r}'))

    def load_records(self):
        texts_path = osp.join(self.data_root, f'{self.split}_texts.jsonl')
        self.tsv_path = osp.join(self.data_root, f'{self.split}_imgs.tsv')
        self.check_files()
        index = index_tsv(self.tsv_path, self._checker, self.verify_images)
        texts = read_texts_jsonl(texts_path, self._checker,
                                 index.__contains__)
        # gallery in LMDB key order (bytewise str(image_id)), the order of
        # the official feature files: equal scores then rank alike
        index = dict(sorted(index.items(),
                            key=lambda kv: str(kv[0]).encode('utf-8')))
        return index, texts

    def load_image(self, source) -> dict:
        return dict(img=read_tsv_image(self.tsv_path, *source))

    def _where(self) -> str:
        return f'{self.data_root} (split {self.split})'


@DATASETS.register_module()
class CNCLIPLmdbRetrieval(ImageTextRetrievalBase):
    """The LMDB layout of ``cn_clip/preprocess/build_lmdb_dataset.py``.

    ``imgs``: key ``str(image_id)`` -> base64 image, plus
    ``num_images``; ``pairs``: key ``str(i)`` -> pickled
    ``(image_id, text_id, text)``, plus ``num_samples``. Pairs are
    unpickled without class lookups (plain data only). Needs ``lmdb``.

    The arguments mirror :class:`CNCLIPTsvRetrieval`, so that a tsv config
    switches layouts with one option (``--cfg-options
    test_dataloader.dataset.type=mmcnclip.CNCLIPLmdbRetrieval``): with
    ``split``, the LMDB is read from ``{data_root}/lmdb/{split}`` where
    ``cn_clip/preprocess/build_lmdb_dataset.py`` writes it.

    Args:
        data_root (str): The dataset folder (``data/datasets/MUGE``) with
            ``split``, or the split folder itself
            (``data/datasets/MUGE/lmdb/valid``) without.
        split (str, optional): ``train``, ``valid`` or ``test``. Defaults
            to None (``data_root`` is the split folder).
        verify_images (bool): Decode every image while loading so that
            undecodable ones are found (and skipped with
            ``skip_bad_rows``) up front. Defaults to False.
        skip_bad_rows (bool): See :class:`ImageTextRetrievalBase`.
        **kwargs: ``pipeline``, ``test_mode``... of ``BaseDataset``.
    """

    def __init__(self, data_root: str, split: Optional[str] = None,
                 verify_images: bool = False, **kwargs):
        self._envs = {}
        self.split = split
        self.verify_images = verify_images
        super().__init__(data_root=data_root, **kwargs)

    @property
    def lmdb_root(self) -> str:
        """The folder with ``imgs`` and ``pairs``."""
        if self.split is None:
            return self.data_root
        return osp.join(self.data_root, 'lmdb', self.split)

    def check_files(self) -> None:
        """Raise ``FileNotFoundError`` (saying where to get them) unless
        the ``imgs`` and ``pairs`` LMDB directories are there."""
        for name in ('imgs', 'pairs'):
            path = osp.join(self.lmdb_root, name)
            if not osp.isdir(path):
                raise FileNotFoundError(missing_message(
                    self, path, 'LMDB directory'))

    def _env(self, name: str):
        import os
        key = (name, os.getpid())  # one handle per (forked) process
        if key not in self._envs:
            self.check_files()
            self._envs[key] = open_lmdb(osp.join(self.lmdb_root, name))
        return self._envs[key]

    def load_records(self):
        imgs, pairs = self._env('imgs'), self._env('pairs')
        where_i = osp.join(self.lmdb_root, 'imgs')
        where_p = osp.join(self.lmdb_root, 'pairs')
        images = {}
        with imgs.begin() as txn:
            for key, value in txn.cursor():
                if key == b'num_images':
                    continue
                try:
                    images[norm_id(key.decode('utf-8'))] = key.decode('utf-8')
                except (ValueError, UnicodeDecodeError) as err:
                    self._checker.bad(where_i, f'{where_i}: bad key {key!r} '
                                      f'({err})')
                    continue
                if self.verify_images:
                    try:
                        decode_base64_image(value, f'{where_i}, key {key!r}')
                    except BadRowError as err:
                        self._checker.bad(where_i, str(err))
                        del images[norm_id(key.decode('utf-8'))]
        raw = lmdb_get(pairs, 'num_samples')
        if raw is None:
            raise BadRowError(f'{where_p}: no "num_samples" entry; not a '
                              'Chinese-CLIP LMDB')
        texts = {}
        for i in range(int(raw)):
            where = f'{where_p}, pair {i}'
            try:
                value = lmdb_get(pairs, i)
                if value is None:
                    raise KeyError('missing')
                image_id, text_id, text = safe_unpickle(value)
                image_id, text_id = norm_id(image_id), norm_id(text_id)
                if not isinstance(text, str):
                    raise TypeError('text is not a string')
            except Exception as err:  # noqa: B902  (any corrupt pickle)
                self._checker.bad(where_p, f'{where}: bad pair ({err!r})')
                continue
            if image_id not in images:
                self._checker.bad(where_p, f'{where}: text {text_id!r} '
                                  f'refers to unknown image id {image_id!r}')
                continue
            entry = texts.setdefault(
                text_id, dict(text_id=text_id, text=normalize_text(text),
                              image_ids=[]))
            entry['image_ids'].append(image_id)
        return images, list(texts.values())

    def load_image(self, source) -> dict:
        where = f'{osp.join(self.lmdb_root, "imgs")}, key {source!r}'
        value = lmdb_get(self._env('imgs'), source)
        if value is None:
            raise BadRowError(f'{where}: missing image')
        return dict(img=decode_base64_image(value, where))

    def _where(self) -> str:
        return self.lmdb_root

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_envs'] = {}
        return state
