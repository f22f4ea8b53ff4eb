"""The CLIP Vision Transformer image encoder of Chinese CLIP."""
import logging
import math
from typing import Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import nn

from mmcnclip.checkpoint.convert import is_grid_resize
from mmcnclip.checkpoint.tower import init_tower_from_cfg
from mmcnclip.registry import MODELS
from ..layers.transformer import LayerNorm, TransformerLayer, run_layers
from ..utils import (FreezesStages, freeze, normalise_indices,
                     resolve_arch)
from .pos_embed import resize_pos_embed


@MODELS.register_module()
class CLIPVisionTransformer(FreezesStages, BaseModule):
    """OpenAI-CLIP style ViT: class token, ``pre_norm``, QuickGELU layers
    (or exact GELU for open_clip towers such as Taiyi-CLIP's ViT-H/14).

    State-dict layout (our own; :mod:`mmcnclip.checkpoint` maps the official,
    Hugging Face and mmpretrain layouts onto it): ``patch_embed.weight``,
    ``cls_token`` (C,), ``pos_embed`` (1 + H*W, C), ``pre_norm``,
    ``layers.{i}.{ln1,attn.qkv,attn.proj,ln2,mlp.fc1,mlp.fc2}``,
    ``post_norm``.

    Args:
        arch (str | dict): A key of :attr:`arch_zoo` or a dict with
            ``embed_dims``, ``num_layers``, ``num_heads`` and
            ``feedforward_channels``. Defaults to ``'base'``.
        img_size (int): Input size the positional embedding is built for.
            Other sizes are handled by interpolating it. Defaults to 224.
        patch_size (int): Patch size. Defaults to 16.
        out_indices (int | Sequence[int]): Layers whose output is returned;
            negative indices count from the end. Defaults to -1.
        out_type (str): ``'cls_token'`` (class token after ``post_norm``:
            the CLIP image feature before projection), ``'featmap'``
            (B, C, H, W patch map), ``'avg_featmap'`` (mean patch token) or
            ``'raw'`` (B, 1 + H*W, C). Defaults to ``'cls_token'``.
        final_norm (bool): Apply ``post_norm`` to the last layer's output.
            Defaults to True.
        frozen_stages (int): Freeze the patch embedding, embeddings and
            ``pre_norm`` (>= 0) and the first ``frozen_stages`` layers; -1
            freezes nothing. Defaults to -1.
        with_cp (bool): Gradient checkpointing of the layers. Defaults to
            False.
        drop_rate (float): Dropout on residual branches. Defaults to 0.
        act (str): MLP activation, ``'quick_gelu'`` (OpenAI CLIP, Chinese
            CLIP) or ``'gelu'`` (open_clip models trained with nn.GELU, e.g.
            LAION ViT-H/14). Defaults to ``'quick_gelu'``.
        init_cfg (dict, optional): Initialisation config.
            ``dict(type='Pretrained', checkpoint=PATH, prefix='backbone.')``
            loads only the image tower from any supported checkpoint layout
            (official, Hugging Face, mmpretrain, mmcnclip, open_clip;
            optional ``format=`` forces one), checking every key strictly.
            Defaults to None.
    """
    arch_zoo = {
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=768, num_layers=12, num_heads=12,
            feedforward_channels=3072)),
        **dict.fromkeys(['l', 'large'], dict(
            embed_dims=1024, num_layers=24, num_heads=16,
            feedforward_channels=4096)),
        # ViT-H/14 of Chinese CLIP uses a head width of 80 (16 heads).
        **dict.fromkeys(['h', 'huge'], dict(
            embed_dims=1280, num_layers=32, num_heads=16,
            feedforward_channels=5120)),
    }
    OUT_TYPES = ('cls_token', 'featmap', 'avg_featmap', 'raw')

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: int = 224,
                 patch_size: int = 16,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 final_norm: bool = True,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 drop_rate: float = 0.,
                 act: str = 'quick_gelu',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = resolve_arch(arch, self.arch_zoo)
        dims = self.arch_settings['embed_dims']
        self.num_layers = self.arch_settings['num_layers']
        self.embed_dims = dims
        self.img_size = img_size
        self.patch_size = patch_size
        self.grid = (img_size // patch_size, img_size // patch_size)
        if out_type not in self.OUT_TYPES:
            raise ValueError(f'out_type must be one of {self.OUT_TYPES}, '
                             f'got {out_type!r}')
        self.out_type = out_type
        self.out_indices = normalise_indices(out_indices, self.num_layers)
        self.final_norm = final_norm
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp

        scale = dims**-0.5
        self.patch_embed = nn.Conv2d(
            3, dims, kernel_size=patch_size, stride=patch_size, bias=False)
        self.cls_token = nn.Parameter(scale * torch.randn(dims))
        self.pos_embed = nn.Parameter(
            scale * torch.randn(1 + self.grid[0] * self.grid[1], dims))
        self.pre_norm = LayerNorm(dims)
        self.layers = nn.ModuleList([
            TransformerLayer(
                dims, self.arch_settings['num_heads'],
                self.arch_settings['feedforward_channels'],
                act=act, pre_norm=True, norm_eps=1e-5,
                drop_rate=drop_rate) for _ in range(self.num_layers)
        ])
        self.post_norm = LayerNorm(dims) if final_norm else nn.Identity()
        # Published towers carry post_norm even where it is not built.
        self.pretrained_ignore_keys = (None if final_norm else
                                       r'post_norm\..*')
        self._freeze_stages()

    def init_weights(self):
        """Load a ``Pretrained`` init_cfg through mmcnclip's converters
        (any layout, strict), else the default initialisation."""
        if not init_tower_from_cfg(self, 'backbone.'):
            super().init_weights()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + 'pos_embed'
        ckpt = state_dict.get(key)
        if ckpt is not None and ckpt.shape != self.pos_embed.shape and \
                is_grid_resize(ckpt.shape, self.pos_embed.shape):
            side = math.isqrt(ckpt.shape[0] - 1)
            print_log(
                f'Resizing {key} of the checkpoint from a {side}x{side} to '
                f'the {self.grid[0]}x{self.grid[1]} token grid of this model: '
                'the checkpoint was trained at another image size', logger='current', level=logging.WARNING)
            state_dict[key] = resize_pos_embed(ckpt, self.grid)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        frozen = [self.patch_embed, self.pre_norm,
                  *self.layers[:self.frozen_stages]]
        if self.frozen_stages >= self.num_layers:
            frozen.append(self.post_norm)
        self.cls_token.requires_grad = False
        self.pos_embed.requires_grad = False
        freeze(frozen)

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer id of a parameter, for layer-wise learning-rate decay.

        Returns:
            tuple[int, int]: ``(layer_depth, num_layers + 2)``: embeddings
            are depth 0, layer ``i`` is ``i + 1``, ``post_norm`` is last.
        """
        num_layers = self.num_layers + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name.startswith(('patch_embed', 'cls_token', 'pos_embed',
                            'pre_norm')):
            return 0, num_layers
        if name.startswith('layers.'):
            return int(name.split('.')[1]) + 1, num_layers
        return num_layers - 1, num_layers

    def forward(self, x: torch.Tensor) -> tuple:
        x = self.patch_embed(x)
        B, C, H, W = x.shape
        x = x.flatten(2).transpose(1, 2)
        pos_embed = self.pos_embed
        if (H, W) != self.grid:
            pos_embed = resize_pos_embed(pos_embed, (H, W))
        cls = self.cls_token.to(x.dtype).expand(B, 1, C)
        x = torch.cat([cls, x], dim=1) + pos_embed.to(x.dtype)
        x = self.pre_norm(x)
        last = self.num_layers - 1
        x, hidden = run_layers(self.layers, x, with_cp=self.with_cp,
                               out_indices=self.out_indices)
        outs = []
        for i in self.out_indices:
            out = hidden[i]
            if self.out_type == 'cls_token':
                out = out[:, 0]
            if i == last and self.final_norm:
                out = self.post_norm(out)
            outs.append(self._format_output(out, (H, W)))
        return tuple(outs)

    def _format_output(self, x: torch.Tensor, hw: tuple) -> torch.Tensor:
        if self.out_type in ('raw', 'cls_token'):
            return x
        patches = x[:, 1:]
        if self.out_type == 'avg_featmap':
            return patches.mean(dim=1)
        B, _, C = patches.shape
        return patches.transpose(1, 2).reshape(B, C, *hw)
