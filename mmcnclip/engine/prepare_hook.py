"""Prepare the model for fast inference right before a test run."""
from typing import Optional

from mmengine.hooks import Hook

from mmcnclip.models.inference import (PRECISIONS, is_prepared,
                                       prepare_on_batch)
from mmcnclip.registry import HOOKS
from .model_wrappers import unwrap_model


@HOOKS.register_module()
class PrepareForInferenceHook(Hook):
    """Apply :func:`~mmcnclip.models.inference.prepare_for_inference` once
    the test checkpoint is loaded, before the first test batch (int8: with
    that batch's images to calibrate ResNet convolutions), or keep the model
    unprepared (``dtype=None``, the bitwise-official path).

    mmcnclip models prepare themselves in fp32 on their first test step
    anyway (``inference_precision``); this hook chooses the precision for
    any model, also inside DDP and test-time-augmentation wrappers (the
    wrapped model is prepared, once). It folds weights in place, so it acts
    at the first test batch only (never during training or validation);
    ``tools/test.py --prepare``/``--no-prepare`` add it::

        custom_hooks = [dict(type='mmcnclip.PrepareForInferenceHook',
                             dtype='bf16')]

    Args:
        dtype (str, optional): ``'fp32'``, ``'bf16'``, ``'fp16'``,
            ``'int8'``, or None to test the unprepared model. Defaults to
            ``'fp32'``.
        channels_last (bool): See :func:`prepare_for_inference`. Defaults to
            True.
        fuse_linear (bool): See :func:`prepare_for_inference`. Defaults to
            True.
        linear_route (str): See :func:`prepare_for_inference`. Defaults to
            ``'auto'`` (measured on this CPU).
    """

    priority = 'VERY_LOW'

    def __init__(self,
                 dtype: Optional[str] = 'fp32',
                 channels_last: bool = True,
                 fuse_linear: bool = True,
                 linear_route: str = 'auto'):
        if dtype is not None and dtype not in PRECISIONS:
            raise ValueError(f'dtype must be one of {list(PRECISIONS)} or '
                             f'None, got {dtype!r}')
        self.dtype = dtype
        self.channels_last = channels_last
        self.fuse_linear = fuse_linear
        self.linear_route = linear_route

    def before_test(self, runner) -> None:
        model = unwrap_model(runner.model)
        if self.dtype is None:
            if hasattr(model, 'set_inference_precision'):
                model.set_inference_precision(None)
            runner.logger.info('Testing the unprepared model (bitwise '
                               'official path)')
            return
        if is_prepared(model):
            raise RuntimeError('The model is already prepared for inference;'
                               ' prepare it once')

    def before_test_iter(self, runner, batch_idx: int,
                         data_batch=None) -> None:
        if self.dtype is None or batch_idx != 0:
            return
        done = prepare_on_batch(
            unwrap_model(runner.model), data_batch, PRECISIONS[self.dtype],
            channels_last=self.channels_last, fuse_linear=self.fuse_linear,
            linear_route=self.linear_route)
        runner.logger.info(
            f'Model prepared for inference ({self.dtype})\n{done}')
