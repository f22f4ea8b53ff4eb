"""Export the image and text towers of a Chinese CLIP model to ONNX.

Each tower is exported on its own with a dynamic batch axis (and, for the
text tower, a dynamic token length), returning L2-normalised features, so
that ``image_features @ text_features.T * logit_scale.exp()`` gives the
model's logits.
"""
import copy
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

TOWERS = ('image', 'text')


class ImageTower(nn.Module):
    """``images (B, 3, H, W) float32 -> normalised features (B, D)``."""

    def __init__(self, model: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.model = model
        self.dtype = dtype

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feats = self.model.encode_image(images.to(self.dtype))
        return F.normalize(feats.float(), dim=-1)


class TextTower(nn.Module):
    """``input_ids (B, L) int64 -> normalised features (B, D)``; ids padded
    with 0 (``[PAD]``) to any common length."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model.encode_text(input_ids).float(), dim=-1)


def export_onnx(model: nn.Module,
                tower: str,
                out_file: str,
                fp16: bool = False,
                image_size: Optional[int] = None,
                max_text_length: int = 512,
                opset: int = 18) -> str:
    """Export one tower of ``model`` to ``out_file``.

    Args:
        model (nn.Module): A model with ``encode_image``/``encode_text``
            (e.g. ``mmcnclip.ChineseCLIP``); it is copied, not changed.
        tower (str): ``'image'`` or ``'text'``.
        out_file (str): Path of the ``.onnx`` file.
        fp16 (bool): Export fp16 weights (LayerNorm and softmax stay fp32;
            inputs and outputs stay float32/int64). Defaults to False.
        image_size (int, optional): Input size of the image tower; inferred
            from the backbone when None. Defaults to None.
        max_text_length (int): Largest text length the dynamic axis allows.
            Defaults to 512.
        opset (int): ONNX opset. Defaults to 18.

    Returns:
        str: ``out_file``.
    """
    from torch.export import Dim

    from mmcnclip.models.inference import (image_input_size,
                                           prepare_for_inference)
    if tower not in TOWERS:
        raise ValueError(f'tower must be one of {TOWERS}, got {tower!r}')
    dtype = torch.float16 if fp16 else torch.float32
    model = prepare_for_inference(copy.deepcopy(model).cpu(),
                                  dtype=dtype if fp16 else None,
                                  channels_last=False, fuse_linear=False)
    batch = Dim('batch', min=1, max=4096)
    if tower == 'image':
        size = image_size or image_input_size(model)
        module = ImageTower(model, dtype)
        args = (torch.randn(2, 3, size, size), )
        dynamic = {'images': {0: batch}}
        names = ['images']
    else:
        module = TextTower(model)
        args = (torch.randint(1, 100, (2, 8)), )
        dynamic = {'input_ids': {0: batch,
                                 1: Dim('length', min=2,
                                        max=max_text_length)}}
        names = ['input_ids']
    program = torch.onnx.export(
        module.eval(), args, dynamo=True, dynamic_shapes=dynamic,
        input_names=names, output_names=[f'{tower}_features'],
        opset_version=opset, external_data=False, verbose=False)
    program.save(out_file)
    return out_file


def check_onnx(onnx_file: str,
               model: nn.Module,
               inputs: Dict[str, torch.Tensor]) -> float:
    """Run ``onnx_file`` with onnxruntime and return the largest absolute
    difference to the PyTorch tower's normalised features.

    Args:
        onnx_file (str): An exported tower.
        model (nn.Module): The PyTorch model it was exported from.
        inputs (dict): ``{'images': Tensor}`` or ``{'input_ids': Tensor}``.

    Returns:
        float: ``max |onnx - torch|``.
    """
    import onnxruntime as ort
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(onnx_file)
    session = ort.InferenceSession(onnx_file,
                                   providers=['CPUExecutionProvider'])
    (name, value), = inputs.items()
    out = session.run(None, {name: value.numpy()})[0]
    with torch.no_grad():
        if name == 'images':
            ref = F.normalize(model.encode_image(value).float(), dim=-1)
        else:
            ref = F.normalize(model.encode_text(value).float(), dim=-1)
    return (torch.from_numpy(out) - ref).abs().max().item()


def export_towers(model: nn.Module, out_dir: str,
                  towers: Sequence[str] = TOWERS, **kwargs) -> list:
    """Export several towers to ``out_dir/{tower}.onnx``; returns paths."""
    return [export_onnx(model, t, osp.join(out_dir, f'{t}.onnx'), **kwargs)
            for t in towers]
