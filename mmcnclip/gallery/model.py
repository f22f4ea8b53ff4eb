"""The model of a gallery: loading, identity and encoding.

The identity (a digest of the weights, the model config and the image
preprocessing, as :mod:`mmcnclip.apis.index_identity` describes them) is
stored in the gallery database; vectors of different models are not
comparable, so a database refuses any other model.
"""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

from mmcnclip.apis import init_retrieval_model
from mmcnclip.apis.index_identity import describe_pipeline
from mmcnclip.models.fingerprint import sampled_weights_digest
from mmcnclip.models.inference import PRECISIONS, prepare_for_inference


class ModelMismatchError(ValueError):
    """The gallery database was built with another model."""


def image_pipeline(cfg: Config) -> List[dict]:
    """The config's test pipeline, which must load files with
    ``LoadImagePIL`` (the official preprocessing)."""
    try:
        pipeline = cfg.test_dataloader.dataset.pipeline
    except AttributeError:
        raise KeyError(f'Config {cfg.filename} has no '
                       'test_dataloader.dataset.pipeline') from None
    pipeline = [dict(t) for t in pipeline]
    if not pipeline or not str(pipeline[0].get('type')).endswith(
            'LoadImagePIL'):
        raise ValueError(f'Config {cfg.filename}: the test pipeline must '
                         'start with mmcnclip.LoadImagePIL, got '
                         f'{pipeline[:1]}')
    return pipeline


class GalleryModel:
    """A loaded two-tower model with its preprocessing and identity.

    Args:
        config (str): Config file (``model`` and the test pipeline).
        checkpoint (str): Checkpoint file (any layout mmcnclip loads).
        device (str): Defaults to 'cpu'.
        prepare (str, optional): Inference preparation precision
            (``fp32``, ``bf16`` or ``fp16``; see
            :func:`mmcnclip.models.inference.prepare_for_inference`).
            Defaults to None.
    """

    def __init__(self,
                 config: str,
                 checkpoint: str,
                 device: str = 'cpu',
                 prepare: Optional[str] = None):
        for kind, path in (('Config', config), ('Checkpoint', checkpoint)):
            if not osp.isfile(path):
                raise FileNotFoundError(f'{kind} file not found: {path}')
        cfg = Config.fromfile(config)
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        self.config, self.checkpoint = osp.abspath(config), osp.abspath(
            checkpoint)
        self.pipeline = image_pipeline(cfg)
        self.model = init_retrieval_model(cfg, checkpoint, device,
                                          prepare=None)
        # before any inference preparation, which changes the weights
        self.identity = dict(
            weights=sampled_weights_digest([self.model]),
            model=describe_pipeline([cfg.model.to_dict()]),
            pipeline=describe_pipeline(self.pipeline))
        if prepare is not None:
            prepare_for_inference(self.model, dtype=PRECISIONS[prepare])
        self.device = device

    def check_identity(self, stored: dict, db_path: str) -> None:
        """Raise :class:`ModelMismatchError` naming what differs."""
        names = {'weights': 'weights (checkpoint)', 'model': 'model config',
                 'pipeline': 'image preprocessing'}
        differ = [names[k] for k in names
                  if stored.get(k) != self.identity[k]]
        if differ:
            raise ModelMismatchError(
                f'{db_path} was indexed with another model: different '
                f'{", ".join(differ)}. Use the config and checkpoint it was '
                f'built with ({stored.get("config")}, '
                f'{stored.get("checkpoint")}) or index into a new database.')

    @torch.no_grad()
    def encode_pixels(self, pixels: torch.Tensor) -> np.ndarray:
        """Normalised features of a batch (B, 3, H, W) of RGB 0-255 images
        as the pipeline packs them."""
        data = self.model.data_preprocessor(
            dict(inputs=pixels.to(self.device)), False)
        feats = self.model.encode_image(data['images'])
        return nn.functional.normalize(feats.float(), dim=-1).cpu().numpy()

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised features of texts."""
        feats = self.model.encode_text(list(texts))
        return nn.functional.normalize(feats.float(), dim=-1).cpu().numpy()
