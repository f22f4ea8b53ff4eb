"""The model side of retrieval: building a model for it, and running it
for inference."""
import contextlib
from typing import Optional

import torch
from torch import nn

from mmcnclip.models.inference import PRECISIONS, prepare_for_inference
from mmcnclip.registry import MODELS


def init_retrieval_model(cfg,
                         checkpoint: Optional[str] = None,
                         device: str = 'cpu',
                         prepare: Optional[str] = 'fp32') -> nn.Module:
    """Build ``cfg.model`` and load a checkpoint into it (eval mode),
    prepared for inference by default.

    Args:
        cfg (mmengine.Config): Config with a ``model`` field (default scope
            already set, e.g. by
            :func:`mmcnclip.engine.runner_setup.load_config`).
        checkpoint (str, optional): Any layout mmcnclip loads; random
            weights when None. Defaults to None.
        device (str): Device to put the model on. Defaults to 'cpu'.
        prepare (str, optional): Precision of
            :func:`~mmcnclip.models.inference.prepare_for_inference`
            (``'fp32'``, ``'bf16'``, ``'fp16'``, ``'int8'``): folded
            weights and fused layers, fp32 equal to the unprepared model up
            to rounding; the prepared model cannot be trained or saved. None
            keeps the unprepared model (bitwise the official computation,
            trainable). Defaults to 'fp32'.

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
def inference_mode(model: nn.Module):
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


def normalized(feats: torch.Tensor) -> torch.Tensor:
    """L2-normalised float32 features."""
    return nn.functional.normalize(feats.float(), dim=-1)
