"""Storage and search of retrieval features: a :class:`RetrievalIndex`
holds normalised image/text features with their ids, saves and loads them
(``weights_only``) and answers memory-bounded top-k queries."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch

from mmcnclip.evaluation import chunked_topk, merge_topk
from mmcnclip.utils.atomic_save import atomic_torch_save

#: marks files written by :meth:`RetrievalIndex.save`
INDEX_FORMAT = 'mmcnclip.RetrievalIndex/1'
GALLERIES = ('image', 'text')


class RetrievalIndex:
    """Normalised image and text features with their ids, searchable.

    Args:
        image_feats (Tensor, optional): Image gallery (N, D). Defaults to
            None.
        image_ids (Sequence, optional): N unique image ids (int or str).
            Defaults to ().
        text_feats (Tensor, optional): Text gallery (M, D). Defaults to
            None.
        text_ids (Sequence, optional): M unique text ids. Defaults to ().
        texts (list[str], optional): The M texts. Defaults to None.
        gt_image_ids (list[list], optional): Image ids each text describes.
            Defaults to None.
        model (dict, optional): Identity of the model (weights digest and
            preprocessing) that encoded the features, see
            :func:`~mmcnclip.apis.index_identity.model_identity`. Defaults
            to None.
    """

    def __init__(self,
                 image_feats: Optional[torch.Tensor] = None,
                 image_ids: Sequence = (),
                 text_feats: Optional[torch.Tensor] = None,
                 text_ids: Sequence = (),
                 texts: Optional[List[str]] = None,
                 gt_image_ids: Optional[List[list]] = None,
                 model: Optional[dict] = None):
        self.model = model
        self.feats, self.ids = {}, {}
        for name, feats, ids in (('image', image_feats, image_ids),
                                 ('text', text_feats, text_ids)):
            ids = list(ids)
            if feats is None:
                if ids:
                    raise ValueError(f'{len(ids)} {name} ids but no {name} '
                                     'features')
                continue
            if feats.dim() != 2 or feats.shape[0] != len(ids):
                raise ValueError(f'{name} features must be (N, D) with one '
                                 f'row per id; got {tuple(feats.shape)} for '
                                 f'{len(ids)} ids')
            if len(set(ids)) != len(ids):
                raise ValueError(f'Duplicate {name} ids in the index')
            self.feats[name], self.ids[name] = feats, ids
        if not self.feats:
            raise ValueError('A RetrievalIndex needs image or text features')
        dims = {f.shape[1] for f in self.feats.values()}
        if len(dims) > 1:
            raise ValueError(f'Image and text features differ in width: '
                             f'{sorted(dims)}')
        num_texts = len(self.ids.get('text', ()))
        for name, value in (('texts', texts), ('gt_image_ids', gt_image_ids)):
            if value is not None and len(value) != num_texts:
                raise ValueError(f'{len(value)} {name} for {num_texts} text '
                                 'features')
        self.texts = None if texts is None else list(texts)
        self.gt_image_ids = None if gt_image_ids is None else [
            list(g) for g in gt_image_ids]

    @property
    def image_feats(self) -> Optional[torch.Tensor]:
        return self.feats.get('image')

    @property
    def text_feats(self) -> Optional[torch.Tensor]:
        return self.feats.get('text')

    @property
    def image_ids(self) -> list:
        return self.ids.get('image', [])

    @property
    def text_ids(self) -> list:
        return self.ids.get('text', [])

    @property
    def embed_dim(self) -> int:
        return next(iter(self.feats.values())).shape[1]

    def text_of(self, text_id) -> Optional[str]:
        """The text stored for ``text_id`` (None without stored texts)."""
        if self.texts is None:
            return None
        if not hasattr(self, '_text_row'):
            self._text_row = {t: i for i, t in enumerate(self.text_ids)}
        return self.texts[self._text_row[text_id]]

    def search(self,
               queries: torch.Tensor,
               k: int = 5,
               gallery: str = 'image',
               query_chunk: int = 1024,
               gallery_chunk: int = 65536) -> Tuple[torch.Tensor, List[list]]:
        """Top-``k`` inner-product matches of each query in a gallery.

        Memory stays bounded for 100k+ galleries: at most ``query_chunk x
        gallery_chunk`` scores (and, for float16 galleries, one float32
        copy of ``gallery_chunk`` rows) exist at a time.

        Args:
            queries (Tensor): Query features (N, D) or (D, ), normalised
                like the gallery.
            k (int): Matches per query; capped at the gallery size.
                Defaults to 5.
            gallery (str): ``'image'`` or ``'text'``. Defaults to 'image'.
            query_chunk (int): Queries scored at once. Defaults to 1024.
            gallery_chunk (int): Gallery rows scored at once. Defaults to
                65536.

        Returns:
            tuple[Tensor, list[list]]: Scores (N, k) in float32, best first
            (equal scores in gallery order, like the official evaluation),
            and the matching gallery ids.
        """
        if gallery not in GALLERIES:
            raise ValueError(f'gallery must be one of {GALLERIES}, got '
                             f'{gallery!r}')
        if gallery not in self.feats:
            raise ValueError(f'This index has no {gallery} features')
        feats = self.feats[gallery]
        queries = queries.detach().to('cpu', torch.float32)
        if queries.dim() == 1:
            queries = queries[None]
        if queries.dim() != 2 or queries.shape[1] != feats.shape[1]:
            raise ValueError(f'Queries must be (N, {feats.shape[1]}), got '
                             f'{tuple(queries.shape)}')
        if feats.dtype == torch.float32:
            scores, rows = chunked_topk(queries, feats, k, query_chunk,
                                        gallery_chunk)
        else:
            scores, rows = self._search_low_precision(
                queries, feats, k, query_chunk, gallery_chunk)
        ids = self.ids[gallery]
        return scores, [[ids[r] for r in row] for row in rows.tolist()]

    @staticmethod
    def _search_low_precision(queries, feats, k, query_chunk, gallery_chunk):
        """``chunked_topk`` over float32 copies of one gallery chunk at a
        time, merging the running top-k (ties in gallery order)."""
        best_s = queries.new_empty((queries.shape[0], 0))
        best_i = torch.zeros((queries.shape[0], 0), dtype=torch.long)
        for start in range(0, feats.shape[0], gallery_chunk):
            block = feats[start:start + gallery_chunk].float()
            s, i = chunked_topk(queries, block, k, query_chunk, gallery_chunk)
            best_s, best_i = merge_topk(best_s, best_i, s, i + start, k)
        return best_s, best_i

    def state_dict(self) -> dict:
        """Plain tensors, lists and strings (``weights_only`` loadable)."""
        return dict(format=INDEX_FORMAT, image_feats=self.image_feats,
                    image_ids=self.image_ids, text_feats=self.text_feats,
                    text_ids=self.text_ids, texts=self.texts,
                    gt_image_ids=self.gt_image_ids, model=self.model)

    def save(self, path: str) -> None:
        """Write the index with ``torch.save``, atomically.

        Args:
            path (str): Output file (folders are created).
        """
        atomic_torch_save(self.state_dict(), path)

    @classmethod
    def load(cls, path: str) -> 'RetrievalIndex':
        """Read an index written by :meth:`save` (``weights_only=True``).

        Args:
            path (str): The index file.

        Returns:
            RetrievalIndex: The index, on CPU.
        """
        if not osp.isfile(path):
            raise FileNotFoundError(f'Retrieval index not found: {path}')
        state = torch.load(path, map_location='cpu', weights_only=True)
        if not isinstance(state, dict) or state.get('format') != INDEX_FORMAT:
            raise ValueError(f'{path} is not a retrieval index (expected a '
                             f'dict with format={INDEX_FORMAT!r}); write one '
                             'with tools/extract_features.py')
        keys = ('image_feats', 'image_ids', 'text_feats', 'text_ids',
                'texts', 'gt_image_ids')
        missing = [k for k in keys if k not in state]
        if missing:
            raise KeyError(f'{path}: retrieval index lacks keys {missing}')
        try:
            return cls(**{k: state[k] for k in keys},
                       model=state.get('model'))
        except ValueError as e:
            raise ValueError(f'{path}: {e}') from e
