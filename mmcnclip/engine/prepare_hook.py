"""Prepare the model for fast inference right before a test run."""

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmcnclip.models.inference import PRECISIONS, prepare_for_inference
from mmcnclip.registry import HOOKS


@HOOKS.register_module()
class PrepareForInferenceHook(Hook):
    """Apply :func:`~mmcnclip.models.inference.prepare_for_inference` once
    the test checkpoint is loaded, before the first test batch.

    It folds weights in place, so it acts in ``before_test`` only (never
    during training or validation); use it in test configs or through
    ``tools/test.py --prepare``::

        custom_hooks = [dict(type='mmcnclip.PrepareForInferenceHook',
                             dtype='bf16')]

    Args:
        dtype (str): ``'fp32'``, ``'bf16'`` or ``'fp16'``. Defaults to
            ``'fp32'``.
        channels_last (bool): See :func:`prepare_for_inference`. Defaults to
            True.
        fuse_linear (bool): See :func:`prepare_for_inference`. Defaults to
            True.
    """

    priority = 'VERY_LOW'

    def __init__(self,
                 dtype: str = 'fp32',
                 channels_last: bool = True,
                 fuse_linear: bool = True):
        if dtype not in PRECISIONS:
            raise ValueError(f'dtype must be one of {list(PRECISIONS)}, got '
                             f'{dtype!r}')
        self.dtype = dtype
        self.channels_last = channels_last
        self.fuse_linear = fuse_linear

    def before_test(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        prepare_for_inference(model, dtype=PRECISIONS[self.dtype],
                              channels_last=self.channels_last,
                              fuse_linear=self.fuse_linear)
        runner.logger.info(f'Model prepared for inference ({self.dtype}, '
                           f'fused linear layers: {self.fuse_linear})')
