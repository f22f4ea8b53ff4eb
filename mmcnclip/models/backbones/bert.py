"""The Chinese RoBERTa-wwm text encoder (BERT layout) of Chinese CLIP."""
from typing import Optional, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from mmcnclip.checkpoint.tower import init_tower_from_cfg
from mmcnclip.registry import MODELS
from ..layers.transformer import LayerNorm, TransformerLayer, run_layers
from ..utils import FreezesStages, freeze, resolve_arch


@MODELS.register_module()
class BertTextEncoder(FreezesStages, BaseModule):
    """Chinese RoBERTa-wwm in BERT layout, with fused fast attention.

    Kept instead of ``transformers.BertModel``: it is built from the same
    transformer layers as the image towers, so ``prepare_for_inference``
    fuses it; measured by ``tools/misc/library_alternatives.py`` (RoBERTa
    base, 32 prompts, fp32, one CPU thread) prepared it runs 2.2x as fast
    as ``BertModel`` (unprepared: the same speed).

    Returns the [CLS] hidden state (Chinese CLIP's text feature, *not* the
    BERT pooler) by default. State-dict layout (our own; the official, Hugging
    Face and mmpretrain ``bert.*`` layouts are mapped onto it by
    :mod:`mmcnclip.checkpoint`): ``word_embed``, ``pos_embed``,
    ``type_embed``, ``embed_norm``,
    ``layers.{i}.{attn.qkv,attn.proj,ln1,mlp.fc1,mlp.fc2,ln2}`` and, with
    ``out_type='pooler'``, ``pooler``.

    Args:
        arch (str | dict): ``'rbt3'`` (RN50), ``'base'`` (ViT-B/L),
            ``'large'`` (ViT-H) or a dict with ``embed_dims``,
            ``num_layers``, ``num_heads`` and ``feedforward_channels``.
            Defaults to ``'base'``.
        vocab_size (int): Vocabulary size. Defaults to 21128.
        max_position (int): Number of position embeddings. Defaults to 512.
        type_vocab_size (int): Number of token types. Defaults to 2.
        pad_id (int): Id of ``[PAD]``; keys equal to it are masked out.
            Defaults to 0.
        out_type (str): ``'cls_token'`` (last hidden state of [CLS]),
            ``'pooler'`` (tanh(dense([CLS])): the Taiyi-CLIP convention) or
            ``'raw'`` (all hidden states). Defaults to ``'cls_token'``.
        drop_rate (float): Hidden dropout. Defaults to 0.1.
        attn_drop_rate (float): Attention-probability dropout. Defaults to
            0.1.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-12.
        with_cp (bool): Gradient checkpointing of the layers. Defaults to
            False.
        frozen_stages (int): Freeze the embeddings (>= 0) and the first
            ``frozen_stages`` layers; -1 freezes nothing. Defaults to -1.
        init_cfg (dict, optional): Initialisation config.
            ``dict(type='Pretrained', checkpoint=PATH,
            prefix='text_encoder.')`` loads only the text tower from any
            supported layout (official, Hugging Face, mmpretrain, mmcnclip,
            HF ``BertModel``/``BertForSequenceClassification``; optional
            ``format=``), strictly. Defaults to None.
    """
    arch_zoo = {
        'rbt3': dict(embed_dims=768, num_layers=3, num_heads=12,
                     feedforward_channels=3072),
        'base': dict(embed_dims=768, num_layers=12, num_heads=12,
                     feedforward_channels=3072),
        'large': dict(embed_dims=1024, num_layers=24, num_heads=16,
                      feedforward_channels=4096),
    }
    OUT_TYPES = ('cls_token', 'pooler', 'raw')

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 vocab_size: int = 21128,
                 max_position: int = 512,
                 type_vocab_size: int = 2,
                 pad_id: int = 0,
                 out_type: str = 'cls_token',
                 drop_rate: float = 0.1,
                 attn_drop_rate: float = 0.1,
                 norm_eps: float = 1e-12,
                 with_cp: bool = False,
                 frozen_stages: int = -1,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = resolve_arch(arch, self.arch_zoo)
        dims = self.arch_settings['embed_dims']
        self.embed_dims = dims
        self.num_layers = self.arch_settings['num_layers']
        if out_type not in self.OUT_TYPES:
            raise ValueError(f'out_type must be one of {self.OUT_TYPES}, '
                             f'got {out_type!r}')
        self.out_type = out_type
        self.pad_id = pad_id
        self.with_cp = with_cp
        self.frozen_stages = frozen_stages
        self.word_embed = nn.Embedding(vocab_size, dims, padding_idx=pad_id)
        self.pos_embed = nn.Embedding(max_position, dims)
        self.type_embed = nn.Embedding(type_vocab_size, dims)
        self.embed_norm = LayerNorm(dims, eps=norm_eps)
        self.embed_drop = nn.Dropout(drop_rate)
        self.layers = nn.ModuleList([
            TransformerLayer(
                dims, self.arch_settings['num_heads'],
                self.arch_settings['feedforward_channels'], act='gelu',
                pre_norm=False, norm_eps=norm_eps, drop_rate=drop_rate,
                attn_drop_rate=attn_drop_rate)
            for _ in range(self.num_layers)
        ])
        self.pooler = nn.Linear(dims, dims) if out_type == 'pooler' else None
        self._freeze_stages()

    def init_weights(self):
        """BERT initialisation (normal(0.02), zero bias, unit LayerNorm)
        unless ``init_cfg`` says otherwise."""
        if init_tower_from_cfg(self, 'text_encoder.'):
            return
        super().init_weights()
        if self.init_cfg is not None:
            return
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        modules = [self.word_embed, self.pos_embed, self.type_embed,
                   self.embed_norm, *self.layers[:self.frozen_stages]]
        freeze(modules)

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer id of a parameter for layer-wise lr decay.

        Returns:
            tuple[int, int]: ``(layer_depth, num_layers + 2)``.
        """
        num_layers = self.num_layers + 2
        name = param_name[len(prefix):]
        if name.startswith('layers.'):
            return int(name.split('.')[1]) + 1, num_layers
        if name.startswith(('word_embed', 'pos_embed', 'type_embed',
                            'embed_norm')):
            return 0, num_layers
        return num_layers - 1, num_layers

    def forward(self,
                input_ids: torch.Tensor,
                attention_mask: Optional[torch.Tensor] = None,
                token_type_ids: Optional[torch.Tensor] = None) -> tuple:
        """Encode token ids of shape (B, L).

        Args:
            input_ids (Tensor): Token ids.
            attention_mask (Tensor, optional): Non-zero where a token is
                real. Defaults to ``input_ids != pad_id``.
            token_type_ids (Tensor, optional): Defaults to zeros.

        Returns:
            tuple[Tensor]: One tensor, shaped by ``out_type``.
        """
        B, L = input_ids.shape
        if L > self.pos_embed.num_embeddings:
            raise ValueError(f'Text of {L} tokens exceeds the '
                             f'{self.pos_embed.num_embeddings} position '
                             'embeddings')
        key_mask = (input_ids != self.pad_id if attention_mask is None else
                    attention_mask.bool())
        x = self.word_embed(input_ids) + self.pos_embed.weight[:L]
        if token_type_ids is None:
            x = x + self.type_embed.weight[0]
        else:
            x = x + self.type_embed(token_type_ids)
        x = self.embed_drop(self.embed_norm(x))
        x, _ = run_layers(self.layers, x, key_mask, self.with_cp)
        if self.out_type == 'raw':
            return (x, )
        if self.out_type == 'pooler':
            return (torch.tanh(self.pooler(x[:, 0])), )
        return (x[:, 0], )
