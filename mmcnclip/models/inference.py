"""Opt-in inference preparation: weight folding, memory layout, low precision.

Nothing here runs unless called. Every function changes the model in place
for *inference only*: folded weights are no longer the checkpoint's weights,
so do not train or save a prepared model (reload the checkpoint instead).

Typical use::

    model = prepare_for_inference(model)                       # fp32
    model = prepare_for_inference(model, dtype=torch.bfloat16)  # bf16
"""
import warnings
from typing import Optional

import torch
from mmengine.logging import print_log
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from mmcnclip.utils.malloc import keep_freed_buffers
from .layers.fused_conv import fuse_bottlenecks_, fuse_stems_
from .layers.fused_linear import (describe_linear_routes,
                                  fuse_linear_layers_, set_linear_routes_)
from .layers.onednn_dtypes import onednn_computes
from .layers.transformer import (MLP, QUICK_GELU_ALPHA, LayerNorm,
                                 QuickGELU, set_attention_routes_)
from .quantization import (INT8, quantize_linear_int8_,
                           quantize_resnet_stages_int8_)

LOW_PRECISION_DTYPES = (torch.bfloat16, torch.float16)
#: precision names of the command line and configs -> ``dtype`` argument
#: of :func:`prepare_for_inference`
PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16,
              'int8': INT8}


def image_input_size(model: nn.Module) -> int:
    """Input size the image tower of ``model`` was built for (its
    backbone's ``img_size``).

    Raises:
        ValueError: The backbone does not expose ``img_size``.
    """
    size = getattr(getattr(model, 'backbone', None), 'img_size', None)
    if size is None:
        raise ValueError(
            f'{type(model).__name__} has no backbone with `img_size`: pass '
            'the input size (or a test pipeline) explicitly')
    return size


def fold_quick_gelu_(model: nn.Module) -> int:
    """Turn every QuickGELU MLP into an equivalent SiLU MLP (one fused kernel
    instead of three element-wise passes).

    ``fc2(h * sigmoid(a*h))`` with ``h = fc1(x)`` equals
    ``fc2'(silu(fc1'(x)))`` where ``fc1' = a * fc1`` and
    ``fc2'.weight = fc2.weight / a``; results differ from the original only
    by fp32 rounding (~1e-7 relative).

    Args:
        model (nn.Module): Any module holding mmcnclip ``MLP`` layers.

    Returns:
        int: The number of MLPs folded.
    """
    count = 0
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, MLP) and isinstance(module.act, QuickGELU):
                module.fc1.weight.mul_(QUICK_GELU_ALPHA)
                module.fc1.bias.mul_(QUICK_GELU_ALPHA)
                module.fc2.weight.div_(QUICK_GELU_ALPHA)
                module.act = nn.SiLU(inplace=True)
                count += 1
    return count


def fold_batch_norm_(model: nn.Module) -> int:
    """Fold every eval-mode BatchNorm that directly follows a convolution into
    that convolution (ModifiedResNet: stem, bottlenecks, downsample paths).

    Pairs are found by name: ``convN``/``bnN`` siblings and the
    ``downsample.0``/``downsample.1`` pair of a bottleneck.

    Args:
        model (nn.Module): The model; must be in eval mode.

    Returns:
        int: The number of BatchNorm layers folded.

    Raises:
        RuntimeError: When the model is in training mode (the running
            statistics would still change).
    """
    if model.training:
        raise RuntimeError('fold_batch_norm_ needs model.eval(): BatchNorm '
                           'folding uses the running statistics')
    count = 0
    for parent in list(model.modules()):
        children = dict(parent.named_children())
        pairs = [(n, 'bn' + n[4:]) for n in children if n.startswith('conv')]
        if isinstance(parent, nn.Sequential) and '0' in children:
            pairs.append(('0', '1'))
        for conv_name, bn_name in pairs:
            conv, bn = children.get(conv_name), children.get(bn_name)
            if isinstance(conv, nn.Conv2d) and isinstance(
                    bn, nn.BatchNorm2d) and bn.track_running_stats:
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(parent, bn_name, nn.Identity())
                count += 1
    return count


def _cast_inputs_hook(dtype: torch.dtype):

    def hook(module, args, kwargs):
        cast = [a.to(dtype) if torch.is_tensor(a) and a.is_floating_point()
                else a for a in args]
        return tuple(cast), kwargs

    return hook


def to_low_precision(model: nn.Module,
                     dtype: torch.dtype = torch.bfloat16) -> nn.Module:
    """Cast a model to bf16/fp16 while keeping the sensitive parts in fp32.

    Weights of linear, convolution, embedding and BatchNorm layers are cast;
    LayerNorm weights stay fp32 and mmcnclip's LayerNorm normalises in fp32;
    ``F.scaled_dot_product_attention`` accumulates its softmax in fp32 on
    CPU and CUDA. Floating inputs of the image backbone are cast to ``dtype``
    by a forward pre-hook, so fp32 images can be fed directly; features come
    out in ``dtype``.

    Args:
        model (nn.Module): A model, ideally already prepared with
            :func:`fold_batch_norm_`.
        dtype (torch.dtype): ``torch.bfloat16`` or ``torch.float16``.
            Defaults to ``torch.bfloat16``.

    Returns:
        nn.Module: ``model`` (cast in place).
    """
    if dtype not in LOW_PRECISION_DTYPES:
        raise ValueError(f'dtype must be one of {LOW_PRECISION_DTYPES}, '
                         f'got {dtype}')
    model.to(dtype)
    for module in model.modules():
        if isinstance(module, (LayerNorm, nn.LayerNorm)):
            module.float()
    for name in ('logit_scale', ):
        param = getattr(model, name, None)
        if isinstance(param, nn.Parameter):
            param.data = param.data.float()
    backbone = getattr(model, 'backbone', None)
    if backbone is not None:
        backbone.register_forward_pre_hook(
            _cast_inputs_hook(dtype), with_kwargs=True)
    return model


def prepare_for_inference(model: nn.Module,
                          dtype: Optional[torch.dtype] = None,
                          channels_last: bool = True,
                          fuse_linear: bool = True,
                          linear_route: str = 'auto',
                          calibration: Optional[torch.Tensor] = None
                          ) -> nn.Module:
    """Eval mode, weight folding, channels-last convolutions, fused linear
    layers on the kernel measured fastest here, optional low precision.

    Args:
        model (nn.Module): The model (e.g. ``mmcnclip.ChineseCLIP``).
        dtype (torch.dtype, optional): ``torch.bfloat16``/``torch.float16``
            for :func:`to_low_precision`; ``torch.qint8`` for int8 (CPU):
            linear layers dynamically
            (:func:`~.quantization.quantize_linear_int8_`), ResNet
            convolutions statically when ``calibration`` is given; None
            keeps fp32. Defaults to None.
        channels_last (bool): Store convolution weights channels-last when
            the model has BatchNorm-folded convolutions (ResNet towers),
            which avoids oneDNN layout reorders on CPU. Defaults to True.
        fuse_linear (bool): Replace linear layers by
            :class:`~mmcnclip.models.layers.fused_linear.FusedLinear`, which
            can run linear + bias + MLP activation as one oneDNN primitive
            on CPU, and folded ResNet bottlenecks by
            :class:`~mmcnclip.models.layers.fused_conv.FusedBottleneck`
            and their stems by fused conv-ReLU layers (ReLUs and residual
            adds inside the convolutions); PyTorch ops
            elsewhere. Defaults to True.
        linear_route (str): ``'auto'`` times oneDNN against PyTorch's BLAS
            for each linear layer family on this CPU (once, cached; see
            :mod:`~mmcnclip.models.layers.kernel_routes`) and keeps the
            faster; ``'onednn'``/``'blas'`` force one. bf16 attention on
            the CPU is always measured the same way (SDPA against two
            batched products). Defaults to 'auto'.
        calibration (Tensor, optional): With int8, images (the image
            backbone's input) on which the convolutions of ResNet towers
            are statically quantised
            (:func:`~.quantization.quantize_resnet_stages_int8_`); without
            them only linear layers become int8. Defaults to None.

    On the CPU it also keeps freed large buffers in the process for the
    next batch (:func:`mmcnclip.utils.malloc.keep_freed_buffers`,
    process-wide; ``MMCNCLIP_MALLOC_TUNING=0`` turns that off).

    Returns:
        nn.Module: ``model``, prepared in place; ``is_prepared(model)`` is
        then True.
    """
    model.eval()
    on_cpu = all(p.device.type == 'cpu' for p in model.parameters())
    if on_cpu:
        keep_freed_buffers()  # large activations: no page faults per batch
    if on_cpu and dtype == torch.bfloat16 and not onednn_computes(dtype):
        warnings.warn(
            'bf16 on a CPU without oneDNN bf16 kernels (they need AVX-512 or '
            'AVX-NE-CONVERT; ONEDNN_MAX_CPU_ISA may cap them): PyTorch '
            'emulates bf16 here, 4-6x slower than the prepared fp32 model '
            'in docs/performance.md. Prepare in fp32 (the default) or int8.',
            stacklevel=2)
    fold_quick_gelu_(model)
    folded = fold_batch_norm_(model)
    if channels_last and folded:
        model.to(memory_format=torch.channels_last)
    if dtype == INT8 and calibration is not None:
        quantize_resnet_stages_int8_(model, calibration)
    if fuse_linear and folded:  # the fused-kernel switch covers both
        from .backbones.modified_resnet import Bottleneck, ModifiedResNet
        fuse_bottlenecks_(model, Bottleneck)
        fuse_stems_(model, ModifiedResNet)
    if dtype == INT8:
        quantize_linear_int8_(model)
    elif fuse_linear:
        fuse_linear_layers_(model)
    if dtype in LOW_PRECISION_DTYPES:
        to_low_precision(model, dtype)
    if fuse_linear and dtype != INT8:
        set_linear_routes_(model, linear_route)
        set_attention_routes_(model)  # bf16 on the CPU only
    model._prepared_for_inference = True
    return model


def calibration_images(model: nn.Module, data: dict,
                       dtype: Optional[torch.dtype]
                       ) -> Optional[torch.Tensor]:
    """The images of batch ``data`` as the model's backbone gets them, to
    calibrate int8 convolutions (:func:`prepare_for_inference`); None when
    ``dtype`` is not int8 or the batch holds no images. A test-time
    augmentation batch (one batch per view) gives its first view.

    Args:
        model (nn.Module): The model (its ``data_preprocessor`` is used).
        data (dict): A batch as the dataloader yields it.
        dtype (torch.dtype, optional): The preparation dtype.

    Returns:
        Tensor | None: (B, 3, H, W) preprocessed images.
    """
    if dtype != INT8:
        return None
    inputs = data.get('inputs') if isinstance(data, dict) else None
    if isinstance(inputs, (list, tuple)) and inputs and (
            isinstance(inputs[0], (list, tuple)) or
            torch.is_tensor(inputs[0]) and inputs[0].dim() == 4):
        # test-time augmentation: one batch per view
        data = {key: value[0] for key, value in data.items()}
    processed = model.data_preprocessor(data, False)
    try:  # ChineseCLIP's batch names them 'images' and reads 'inputs' too
        images = processed['inputs']
    except KeyError:
        return None
    return images if torch.is_tensor(images) and images.dim() == 4 else None


def prepare_on_batch(model: nn.Module, data: dict,
                     dtype: Optional[torch.dtype], **kwargs) -> str:
    """:func:`prepare_for_inference` at a model's first batch ``data``
    (int8: its images calibrate ResNet convolutions,
    :func:`calibration_images`).

    Args:
        model (nn.Module): The model.
        data (dict): The first batch, as the dataloader yields it.
        dtype (torch.dtype, optional): The preparation dtype.
        **kwargs: Further arguments of :func:`prepare_for_inference`.

    Returns:
        str: What to log: the calibration (if any) and the kernel routes.
    """
    calibration = calibration_images(model, data, dtype)
    prepare_for_inference(model, dtype=dtype, calibration=calibration,
                          **kwargs)
    lines = [] if calibration is None else [
        'int8: ResNet convolutions (if any) calibrated on the '
        f'{len(calibration)} images of the first batch']
    return '\n'.join(lines + ['linear kernel routes:',
                              describe_linear_routes(model)])


def is_prepared(model: nn.Module) -> bool:
    """Whether :func:`prepare_for_inference` has run on ``model``."""
    return getattr(model, '_prepared_for_inference', False)


class PreparesForInference:
    """Model mixin: the first ``test_step`` in eval mode prepares the model
    (:func:`prepare_for_inference`), so ``tools/test.py``, mmpretrain's
    inferencers and anything else that calls ``test_step`` run the fast
    model by default. Training (``train_step``) and validation
    (``val_step``) never prepare; a prepared model refuses ``train()``
    because its folded weights are no longer the checkpoint's.

    The model's ``inference_precision`` (``'fp32'``, ``'bf16'``,
    ``'fp16'``, or None for the bitwise-official unprepared model) selects
    it; set it in the model config or with
    ``tools/test.py --no-prepare``/``--prepare``.
    """
    inference_precision: Optional[str] = 'fp32'

    def set_inference_precision(self, precision: Optional[str]) -> None:
        """Set ``inference_precision`` (checked): a key of
        :data:`PRECISIONS` or None."""
        if precision is not None and precision not in PRECISIONS:
            raise ValueError(f'inference_precision must be one of '
                             f'{list(PRECISIONS)} or None, got {precision!r}')
        self.inference_precision = precision

    def test_step(self, data):
        """Prepare once (unless ``inference_precision`` is None), then run
        the parent's ``test_step``."""
        if (not self.training and self.inference_precision is not None
                and not is_prepared(self)):
            done = prepare_on_batch(self, data,
                                    PRECISIONS[self.inference_precision])
            print_log(f'{type(self).__name__} prepared for inference '
                      f'({self.inference_precision}; inference_precision='
                      f'None for the unprepared model)\n{done}',
                      logger='current')
        return super().test_step(data)

    def train(self, mode: bool = True):
        """Refuse training mode once prepared (reload the checkpoint)."""
        if mode and is_prepared(self):
            raise RuntimeError(
                f'{type(self).__name__} was prepared for inference (folded '
                'weights, fused layers): it cannot be trained or saved as a '
                'checkpoint; build it again and load the checkpoint')
        return super().train(mode)
