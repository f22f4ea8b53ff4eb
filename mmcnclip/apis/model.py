"""The model side of retrieval: building a model for it, and running it
for inference."""
import contextlib
from typing import Optional

import torch
from torch import nn

from mmcnclip.registry import MODELS


def init_retrieval_model(cfg,
                         checkpoint: Optional[str] = None,
                         device: str = 'cpu') -> nn.Module:
    """Build ``cfg.model`` and load a checkpoint into it (eval mode).

    Args:
        cfg (mmengine.Config): Config with a ``model`` field (default scope
            already set, e.g. by
            :func:`mmcnclip.engine.runner_setup.load_config`).
        checkpoint (str, optional): Any layout mmcnclip loads; random
            weights when None. Defaults to None.
        device (str): Device to put the model on. Defaults to 'cpu'.

    Returns:
        nn.Module: The model.
    """
    from mmengine.runner import load_checkpoint
    if 'model' not in cfg:
        raise KeyError(f'Config {cfg.filename} has no "model" field')
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.to(device).eval()


@contextlib.contextmanager
def inference_mode(model: nn.Module):
    """Eval mode and no gradients; the previous mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def normalized(feats: torch.Tensor) -> torch.Tensor:
    """L2-normalised float32 features."""
    return nn.functional.normalize(feats.float(), dim=-1)
