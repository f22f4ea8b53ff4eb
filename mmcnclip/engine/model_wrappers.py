"""The model inside the runner's wrappers."""
from torch import nn


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside DDP/FSDP wrappers and test-time-augmentation models
    (everything that keeps the wrapped model as ``.module``)."""
    while hasattr(model, 'module'):
        model = model.module
    return model
