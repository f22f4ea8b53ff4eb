"""Encoding a retrieval gallery, batch by batch, into a
:class:`~mmcnclip.apis.index.RetrievalIndex`."""
from typing import Iterable, Optional, Sequence

import torch
from torch import nn

from mmcnclip.utils.progress import SLOW_CPU_HINT, Progress
from .index import RetrievalIndex
from .index_identity import model_identity
from .model import inference_mode, normalized


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


def extract_features(model: nn.Module,
                     dataloader: Iterable,
                     fp16: bool = False,
                     progress: bool = True,
                     identity: Optional[dict] = None) -> RetrievalIndex:
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
        progress (bool): Report progress on stderr (main process only; a
            live line on a terminal, plain lines elsewhere). Defaults to
            True.
        identity (dict, optional): The model identity stored in the index
            (:func:`~mmcnclip.apis.index_identity.model_identity`, computed
            before :func:`~mmcnclip.models.inference.prepare_for_inference`
            and with the preprocessing); computed from ``model`` when None.
            Defaults to None.

    Returns:
        RetrievalIndex: The image and text galleries.
    """
    if identity is None:
        identity = model_identity(model)
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
        bar = Progress(total, 'samples', slow_hint=SLOW_CPU_HINT if all(
            not p.is_cuda for p in model.parameters()) else None)
    with inference_mode(model):
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
                feats = normalized(model.encode_image(pixels))
                images.add(feats, range(images.size, images.size + len(feats)))
                count = len(feats)
            elif isinstance(batch, (list, tuple)) and all(
                    isinstance(t, str) for t in batch):
                feats = normalized(model.encode_text(list(batch)))
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
        bar.close()
    return RetrievalIndex(
        images.result(), images.ids, texts.result(), texts.ids,
        texts=strings if any(t is not None for t in strings) else None,
        gt_image_ids=gt_ids if has_gt and gt_ids else None,
        model=identity)
