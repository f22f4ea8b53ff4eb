"""Image-text retrieval at scale: feature extraction, a saved index, search.

Typical use::

    model = init_retrieval_model(cfg, 'clip_cn_vit-b-16.pt')
    index = extract_features(model, Runner.build_dataloader(
        cfg.test_dataloader), fp16=True)
    index.save('index.pt')
    index = RetrievalIndex.load('index.pt')
    text_to_image(model, index, ['一个红色的圆形'], k=5)
"""
import contextlib
import os
import os.path as osp
import sys
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.utils import ProgressBar
from mmpretrain.datasets.transforms import PackInputs
from torch import nn

from mmcnclip.evaluation import chunked_topk, merge_topk
from mmcnclip.models.inference import PRECISIONS, prepare_for_inference
from mmcnclip.registry import MODELS, TRANSFORMS

#: marks files written by :meth:`RetrievalIndex.save`
INDEX_FORMAT = 'mmcnclip.RetrievalIndex/1'
GALLERIES = ('image', 'text')


def init_retrieval_model(cfg,
                         checkpoint: Optional[str] = None,
                         device: str = 'cpu',
                         prepare: Optional[str] = 'fp32') -> nn.Module:
    """Build ``cfg.model`` and load a checkpoint into it (eval mode),
    prepared for inference by default.

    Args:
        cfg (mmengine.Config): Config with a ``model`` field (default scope
            already set, e.g. by ``tools/runner_setup.load_config``).
        checkpoint (str, optional): Any layout mmcnclip loads; random
            weights when None. Defaults to None.
        device (str): Device to put the model on. Defaults to 'cpu'.
        prepare (str, optional): Precision of
            :func:`~mmcnclip.models.inference.prepare_for_inference`
            (``'fp32'``, ``'bf16'``, ``'fp16'``): folded weights and fused
            layers, fp32 equal to the unprepared model up to rounding; the
            prepared model cannot be trained or saved. None keeps the
            unprepared model (bitwise the official computation, trainable).
            Defaults to 'fp32'.

    Returns:
        nn.Module: The model.
    """
    from mmengine.runner import load_checkpoint
    if 'model' not in cfg:
        raise KeyError(f'Config {cfg.filename} has no "model" field')
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model = model.to(device).eval()
    if hasattr(model, 'set_inference_precision'):
        model.set_inference_precision(prepare)
    if prepare is not None:
        prepare_for_inference(model, dtype=PRECISIONS[prepare])
    return model


@contextlib.contextmanager
def _inference(model: nn.Module):
    """Eval mode and no gradients; the previous mode is restored. A model
    being trained is not prepared for inference on the way."""
    was_training = model.training
    precision = getattr(model, 'inference_precision', None)
    if was_training and precision is not None:
        model.set_inference_precision(None)
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)
        if was_training and precision is not None:
            model.set_inference_precision(precision)


class _FeatureBuffer:
    """Rows written in place into one preallocated tensor.

    Starts with ``capacity`` rows (the dataset's count when known) and
    doubles only when more rows arrive, so no list of per-batch tensors is
    concatenated at the end.
    """

    def __init__(self, capacity: int, dtype: torch.dtype):
        self.capacity = max(int(capacity), 0)
        self.dtype = dtype
        self.feats = None
        self.ids = []
        self.size = 0

    def add(self, feats: torch.Tensor, ids: Sequence) -> None:
        n, dim = feats.shape
        if self.feats is None:
            self.feats = torch.empty((max(self.capacity, n), dim),
                                     dtype=self.dtype)
        elif dim != self.feats.shape[1]:
            raise ValueError(f'Feature width changed from '
                             f'{self.feats.shape[1]} to {dim}')
        if self.size + n > self.feats.shape[0]:
            grown = self.feats.new_empty(
                (max(2 * self.feats.shape[0], self.size + n), dim))
            grown[:self.size] = self.feats[:self.size]
            self.feats = grown
        self.feats[self.size:self.size + n] = feats.to('cpu', self.dtype)
        self.ids.extend(ids)
        self.size += n

    def result(self) -> Optional[torch.Tensor]:
        if self.feats is None:
            return None
        if self.size == self.feats.shape[0]:
            return self.feats
        return self.feats[:self.size].clone()  # drop the spare capacity


def _normalized(feats: torch.Tensor) -> torch.Tensor:
    return nn.functional.normalize(feats.float(), dim=-1)


def extract_features(model: nn.Module,
                     dataloader: Iterable,
                     fp16: bool = False,
                     progress: bool = True) -> 'RetrievalIndex':
    """Encode a retrieval gallery, batch by batch, into an index.

    Every batch is one of:

    * a dict from an mmengine dataloader (``inputs`` and ``data_samples``,
      e.g. a retrieval test set with ``pseudo_collate``): run through
      ``model.test_step`` (``'predict'`` mode). Samples with ``image_feat``
      go to the image gallery under their ``image_id``; samples with
      ``text_feat`` go to the text gallery under their ``text_id``, keeping
      ``text`` and ``gt_image_ids``.
    * a tensor of images (B, 3, H, W) as the data preprocessor takes them
      (RGB, 0-255): encoded with ``encode_image``; ids count from 0.
    * a list of strings: encoded with ``encode_text``; ids count from 0.

    Features are L2-normalised and written into preallocated tensors (sized
    from the dataset's ``num_images``/``num_texts`` when it has them).

    Args:
        model (nn.Module): A two-tower model such as ``mmcnclip.ChineseCLIP``.
        dataloader (Iterable): Batches as above.
        fp16 (bool): Store features in float16 (half the memory; scores are
            still computed in float32). Defaults to False.
        progress (bool): Show an mmengine progress bar on stderr. Defaults
            to True.

    Returns:
        RetrievalIndex: The image and text galleries.
    """
    dtype = torch.float16 if fp16 else torch.float32
    dataset = getattr(dataloader, 'dataset', None)
    images = _FeatureBuffer(getattr(dataset, 'num_images', 0), dtype)
    texts = _FeatureBuffer(getattr(dataset, 'num_texts', 0), dtype)
    strings, gt_ids = [], []
    has_gt = True
    bar = None
    if progress:
        total = len(dataset) if dataset is not None and hasattr(
            dataset, '__len__') else 0
        bar = ProgressBar(total, file=sys.stderr)
    with _inference(model):
        for batch in dataloader:
            if isinstance(batch, dict):
                samples = model.test_step(batch)
                img = [s for s in samples if 'image_feat' in s]
                txt = [s for s in samples if 'text_feat' in s]
                if not img and not txt:
                    raise KeyError('The model set neither "image_feat" nor '
                                   '"text_feat" on the data samples; does it '
                                   'support predict mode for retrieval?')
                if img:
                    images.add(
                        torch.stack([s.image_feat for s in img]),
                        [s.get('image_id', images.size + i)
                         for i, s in enumerate(img)])
                if txt:
                    texts.add(
                        torch.stack([s.text_feat for s in txt]),
                        [s.get('text_id', texts.size + i)
                         for i, s in enumerate(txt)])
                    strings.extend(s.get('text') for s in txt)
                    has_gt = has_gt and all('gt_image_ids' in s for s in txt)
                    gt_ids.extend(list(s.get('gt_image_ids', ()))
                                  for s in txt)
                count = len(samples)
            elif isinstance(batch, torch.Tensor):
                pixels = model.data_preprocessor(dict(inputs=batch),
                                                 False)['images']
                feats = _normalized(model.encode_image(pixels))
                images.add(feats, range(images.size, images.size + len(feats)))
                count = len(feats)
            elif isinstance(batch, (list, tuple)) and all(
                    isinstance(t, str) for t in batch):
                feats = _normalized(model.encode_text(list(batch)))
                texts.add(feats, range(texts.size, texts.size + len(feats)))
                strings.extend(batch)
                has_gt = False
                count = len(feats)
            else:
                raise TypeError('extract_features takes batches that are '
                                'dicts (mmengine dataloaders), image tensors '
                                'or lists of strings, got '
                                f'{type(batch).__name__}')
            if bar is not None:
                bar.update(count)
    if bar is not None:
        bar.file.write('\n')
    return RetrievalIndex(
        images.result(), images.ids, texts.result(), texts.ids,
        texts=strings if any(t is not None for t in strings) else None,
        gt_image_ids=gt_ids if has_gt and gt_ids else None)


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
    """

    def __init__(self,
                 image_feats: Optional[torch.Tensor] = None,
                 image_ids: Sequence = (),
                 text_feats: Optional[torch.Tensor] = None,
                 text_ids: Sequence = (),
                 texts: Optional[List[str]] = None,
                 gt_image_ids: Optional[List[list]] = None):
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
                    gt_image_ids=self.gt_image_ids)

    def save(self, path: str) -> None:
        """Write the index with ``torch.save``.

        Args:
            path (str): Output file (folders are created).
        """
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        torch.save(self.state_dict(), path)

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
            return cls(**{k: state[k] for k in keys})
        except ValueError as e:
            raise ValueError(f'{path}: {e}') from e


def _chunks(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _ranked(scores: torch.Tensor, ids: List[list]) -> List[list]:
    return [list(zip(row_ids, row.tolist()))
            for row_ids, row in zip(ids, scores)]


def text_to_image(model: nn.Module,
                  index: RetrievalIndex,
                  texts: Union[str, Sequence[str]],
                  k: int = 5,
                  batch_size: int = 256) -> List[List[tuple]]:
    """Rank the index's images for each text.

    Args:
        model (nn.Module): The model that built the index (``encode_text``).
        index (RetrievalIndex): Index with image features.
        texts (str | Sequence[str]): Queries.
        k (int): Results per query. Defaults to 5.
        batch_size (int): Texts encoded at once. Defaults to 256.

    Returns:
        list[list[tuple]]: Per query, ``(image_id, score)`` best first.
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    with _inference(model):
        feats = torch.cat([_normalized(model.encode_text(list(c))).cpu()
                           for c in _chunks(texts, batch_size)])
    return _ranked(*index.search(feats, k, gallery='image'))


def _image_size(model: nn.Module) -> int:
    backbone = getattr(model, 'backbone', None)
    grid, patch = getattr(backbone, 'grid', None), getattr(
        backbone, 'patch_size', None)
    if grid is None or patch is None:
        raise ValueError(f'Cannot tell the input size of '
                         f'{type(backbone).__name__}; pass the test pipeline')
    return grid[0] * patch


def _image_pipeline(model: nn.Module, pipeline) -> Compose:
    if pipeline is None:
        pipeline = [dict(type='mmcnclip.LoadImagePIL'),
                    dict(type='mmcnclip.PILResize', scale=_image_size(model))]
    transforms = [TRANSFORMS.build(t) if isinstance(t, dict) else t
                  for t in pipeline]
    if not any(isinstance(t, PackInputs) for t in transforms):
        transforms.append(
            TRANSFORMS.build(dict(type='mmcnclip.PackImageText')))
    return Compose(transforms)


def image_to_text(model: nn.Module,
                  index: RetrievalIndex,
                  images: Union[torch.Tensor, Sequence],
                  k: int = 5,
                  pipeline: Optional[list] = None,
                  batch_size: int = 64) -> List[List[tuple]]:
    """Rank the index's texts for each image.

    Args:
        model (nn.Module): The model that built the index (``encode_image``
            and its data preprocessor).
        index (RetrievalIndex): Index with text features.
        images (Tensor | Sequence): Image files, PIL images or BGR numpy
            arrays (through ``pipeline``), or a tensor (B, 3, H, W) of RGB
            0-255 images at the model's input size.
        k (int): Results per query. Defaults to 5.
        pipeline (list, optional): Transforms turning ``img_path``/``img``
            into the model input, e.g. the config's test pipeline; defaults
            to ``LoadImagePIL`` + ``PILResize`` to the ViT input size.
        batch_size (int): Images encoded at once. Defaults to 64.

    Returns:
        list[list[tuple]]: Per query, ``(text_id, score)`` best first (see
        :meth:`RetrievalIndex.text_of` for the texts).
    """
    feats = []
    with _inference(model):
        if isinstance(images, torch.Tensor):
            for chunk in images.split(batch_size):
                pixels = model.data_preprocessor(dict(inputs=chunk),
                                                 False)['images']
                feats.append(_normalized(model.encode_image(pixels)).cpu())
        else:
            compose = _image_pipeline(model, pipeline)
            for chunk in _chunks(list(images), batch_size):
                packed = [compose(dict(img_path=os.fspath(x)) if isinstance(
                    x, (str, os.PathLike)) else dict(img=x)) for x in chunk]
                pixels = model.data_preprocessor(pseudo_collate(packed),
                                                 False)['images']
                feats.append(_normalized(model.encode_image(pixels)).cpu())
    if not feats:
        raise ValueError('image_to_text got no images')
    return _ranked(*index.search(torch.cat(feats), k, gallery='text'))
