"""Toy-size Chinese CLIP models (official cn_clip and our config) for tests
about key handling rather than about a published size."""
import pytest
import torch

from conftest import randomize_


def tiny_official(img_size=56, patch=14, width=64, layers=2, seed=0):
    """An official cn_clip CLIP of toy size with random weights."""
    pytest.importorskip('cn_clip')
    from cn_clip.clip.model import CLIP
    torch.manual_seed(seed)
    model = CLIP(
        embed_dim=32, image_resolution=img_size, vision_layers=layers,
        vision_width=width, vision_patch_size=patch, vocab_size=21128,
        text_attention_probs_dropout_prob=0.1, text_hidden_act='gelu',
        text_hidden_dropout_prob=0.1, text_hidden_size=64,
        text_initializer_range=0.02, text_intermediate_size=128,
        text_max_position_embeddings=64, text_num_attention_heads=2,
        text_num_hidden_layers=2, text_type_vocab_size=2)
    randomize_(model, seed)
    return model.eval()


def tiny_config(img_size=56, patch=14, width=64, layers=2):
    """Our config matching :func:`tiny_official` (head width 64)."""
    return dict(
        type='mmcnclip.ChineseCLIP',
        backbone=dict(
            type='mmcnclip.CLIPVisionTransformer',
            arch=dict(embed_dims=width, num_layers=layers,
                      num_heads=width // 64, feedforward_channels=4 * width),
            img_size=img_size, patch_size=patch),
        neck=dict(type='mmcnclip.CLIPProjection', in_channels=width,
                  out_channels=32),
        text_encoder=dict(
            type='mmcnclip.BertTextEncoder', max_position=64,
            arch=dict(embed_dims=64, num_layers=2, num_heads=2,
                      feedforward_channels=128)),
        text_proj=dict(type='mmcnclip.CLIPProjection', in_channels=64,
                       out_channels=32))
