"""ModelScope-style multi-modal embeddings from a config name and a
checkpoint, in one call.

Users of ModelScope's ``multi_modal_embedding`` pipeline expect images or
texts in, L2-normalised embeddings and the model's temperature out::

    from mmcnclip.apis import MultiModalEmbedding
    embed = MultiModalEmbedding('cn-clip_vit-base-p16_zeroshot-cls_cifar100',
                                'clip_cn_vit-b-16.pt')
    out = embed({'img': ['cat.jpg', pil_image], 'text': ['一只猫', '一条狗']})
    probs = (out['logit_scale'] * out['img_embedding']
             @ out['text_embedding'].T).softmax(dim=-1)
"""
import os
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from PIL import Image

from mmcnclip.utils.progress import Progress
from .model import inference_mode, normalized
from .search import _chunks, _image_pipeline

ImageInput = Union[str, os.PathLike, Image.Image, np.ndarray]


def _as_list(items) -> list:
    return list(items) if isinstance(items, (list, tuple)) else [items]


class MultiModalEmbedding:
    """Normalised image and text embeddings of a Chinese CLIP model.

    Args:
        model (str | Config | nn.Module): A model name of
            ``mmpretrain.list_models('cn-clip*')`` (mmcnclip's), a config
            path or Config (any mmcnclip model with ``encode_image`` and
            ``encode_text``: ``ChineseCLIP``, ``ZeroShotClassifier``,
            ``TaiyiCLIP``), or a built model.
        pretrained (str, optional): Checkpoint, any layout mmcnclip loads
            (official ``.pt``, Hugging Face, mmpretrain ``.pth``). Random
            weights when None. Defaults to None.
        device (str): Defaults to ``'cpu'``.
        batch_size (int): Images or texts encoded per forward. Defaults to
            64.
        pipeline (list, optional): Image transforms; defaults to the
            config's test pipeline, else PIL loading and resizing to the
            model's input size.
    """

    def __init__(self,
                 model,
                 pretrained: Optional[str] = None,
                 device: str = 'cpu',
                 batch_size: int = 64,
                 pipeline: Optional[list] = None):
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        if isinstance(model, torch.nn.Module):
            self.model = model.to(device).eval()
        else:
            import mmcnclip  # noqa: F401  (registers our model names)
            from mmpretrain import get_model
            self.model = get_model(model, pretrained=pretrained or False,
                                   device=device)
        for attr in ('encode_image', 'encode_text', 'logit_scale'):
            if not hasattr(self.model, attr):
                raise TypeError(f'{type(self.model).__name__} has no {attr}: '
                                'MultiModalEmbedding needs a Chinese CLIP '
                                'model (ChineseCLIP, ZeroShotClassifier, '
                                'TaiyiCLIP)')
        if pipeline is None:
            pipeline = self._config_pipeline()
        self.compose = _image_pipeline(self.model, pipeline)
        self.batch_size = batch_size

    def _config_pipeline(self) -> Optional[list]:
        config = getattr(self.model, '_config', None)
        try:
            return list(config.test_dataloader.dataset.pipeline)
        except AttributeError:
            return None

    @property
    def logit_scale(self) -> float:
        """float: ``exp`` of the learned log scale (100 for the released
        checkpoints): logits are ``logit_scale * img @ text.T``."""
        return float(self.model.logit_scale.detach().exp())

    @property
    def temperature(self) -> float:
        """float: ``1 / logit_scale``, the softmax temperature."""
        return 1 / self.logit_scale

    def _progress(self, total: int, progress: Optional[bool],
                  desc: str = 'items'):
        show = progress if progress is not None else total > self.batch_size
        return Progress(total, desc) if show else None

    def images(self, images: Union[ImageInput, Sequence[ImageInput]],
               progress: Optional[bool] = None) -> torch.Tensor:
        """Embed images.

        Args:
            images: One or a list of image paths, PIL images or BGR numpy
                arrays (as ``mmcv.imread`` gives).
            progress (bool, optional): Progress bar; by default shown when
                there is more than one batch.

        Returns:
            Tensor: (N, embed_dim) L2-normalised float32 embeddings (CPU).
        """
        images = _as_list(images)
        if not images:
            raise ValueError('MultiModalEmbedding.images got no images')
        bar, feats = self._progress(len(images), progress, 'images'), []
        with inference_mode(self.model):
            for chunk in _chunks(images, self.batch_size):
                packed = [self.compose(
                    dict(img_path=os.fspath(x)) if isinstance(
                        x, (str, os.PathLike)) else dict(img=x))
                    for x in chunk]
                batch = self.model.data_preprocessor(pseudo_collate(packed),
                                                     False)
                # ChineseCLIP's preprocessor gives 'images', mmpretrain's
                # ClsDataPreprocessor (ZeroShotClassifier) 'inputs'
                pixels = batch.get('images', batch.get('inputs'))
                feats.append(normalized(self.model.encode_image(pixels)).cpu())
                if bar is not None:
                    bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return torch.cat(feats)

    def texts(self, texts: Union[str, Sequence[str]],
              progress: Optional[bool] = None) -> torch.Tensor:
        """Embed texts.

        Args:
            texts (str | Sequence[str]): One or a list of texts.
            progress (bool, optional): As in :meth:`images`.

        Returns:
            Tensor: (N, embed_dim) L2-normalised float32 embeddings (CPU).
        """
        texts = _as_list(texts)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise TypeError('MultiModalEmbedding.texts takes a string or a '
                            'non-empty list of strings')
        bar, feats = self._progress(len(texts), progress, 'texts'), []
        with inference_mode(self.model):
            for chunk in _chunks(texts, self.batch_size):
                feats.append(
                    normalized(self.model.encode_text(list(chunk))).cpu())
                if bar is not None:
                    bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return torch.cat(feats)

    def __call__(self, inputs, progress: Optional[bool] = None) -> dict:
        """Embed like ModelScope's ``multi_modal_embedding`` pipeline.

        Args:
            inputs: ``{'img': images, 'text': texts}`` (either key may be
                left out); or bare texts (str or list of str); or bare
                images (PIL images, numpy arrays, ``pathlib.Path``; a path
                given as a plain str is a text, put it under ``'img'``).
            progress (bool, optional): As in :meth:`images`.

        Returns:
            dict: ``img_embedding`` and/or ``text_embedding`` ((N, D),
            L2-normalised), ``logit_scale`` and ``temperature``.
        """
        if not isinstance(inputs, dict):
            first = _as_list(inputs)[0] if _as_list(inputs) else None
            key = 'text' if isinstance(first, str) else 'img'
            inputs = {key: inputs}
        unknown = set(inputs) - {'img', 'text'}
        if unknown:
            raise KeyError(f'Unknown input keys {sorted(unknown)}; use '
                           "'img' and/or 'text'")
        out = dict(logit_scale=self.logit_scale, temperature=self.temperature)
        if inputs.get('img') is not None:
            out['img_embedding'] = self.images(inputs['img'], progress)
        if inputs.get('text') is not None:
            out['text_embedding'] = self.texts(inputs['text'], progress)
        return out
