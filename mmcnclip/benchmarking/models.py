"""The models a benchmark compares: official ``cn_clip``, mmcnclip (plain,
prepared) and Hugging Face, all of one architecture and with equal weights.
"""
import os.path as osp

import torch

from mmcnclip.model_table import (MODEL_TABLE, base_config_path,
                                  config_root, official_model_args)

#: benchmark precision names -> dtypes
DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16,
          'fp16': torch.float16}
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def model_names() -> list:
    """Official size names the benchmark knows (the model table's)."""
    return list(MODEL_TABLE)


def image_gflops(name: str) -> float:
    """GFLOP of the image tower per image (counted, from the table)."""
    return MODEL_TABLE[name].image_gflops


def official_info(name: str) -> dict:
    """The official json config (vision + text) of ``name``."""
    return official_model_args(name)


def zero_shot_config_path(name: str, task: str) -> str:
    """The shipped zero-shot config of ``name`` for ``task``."""
    return osp.join(config_root(), 'configs',
                    MODEL_TABLE[name].zero_shot_config(task) + '.py')


def build_official(name: str, seed: int = 0):
    """Official ``cn_clip`` CLIP (fp32, eval) with its seeded random init."""
    from cn_clip.clip.model import CLIP
    torch.manual_seed(seed)
    return CLIP(**official_info(name)).eval()


def build_ours(name: str, official_state: dict, **model_args):
    """mmcnclip ChineseCLIP loaded from an official-layout state dict.

    Args:
        name (str): Official size name.
        official_state (dict): ``state_dict()`` of the official model.
        **model_args: Overrides of the model config (e.g.
            ``inference_precision=None``).
    """
    from mmengine.config import Config

    from mmcnclip.registry import MODELS
    cfg = Config.fromfile(base_config_path(name)).model
    cfg.update(model_args)
    model = MODELS.build(cfg).eval()
    model.load_state_dict(
        {f'module.{k}': v for k, v in official_state.items()}, strict=True)
    return model


def build_hf(name: str):
    """Hugging Face ChineseCLIPModel of the same architecture (ViT only),
    with its own random weights (its speed does not depend on them)."""
    from transformers import ChineseCLIPConfig, ChineseCLIPModel
    info = official_info(name)
    vision = dict(
        hidden_size=info['vision_width'],
        intermediate_size=info['vision_width'] * 4,
        num_hidden_layers=info['vision_layers'],
        num_attention_heads=info['vision_width'] // 64,
        image_size=info['image_resolution'],
        patch_size=info['vision_patch_size'], hidden_act='quick_gelu',
        projection_dim=info['embed_dim'])
    text = dict(
        vocab_size=info['vocab_size'], hidden_size=info['text_hidden_size'],
        num_hidden_layers=info['text_num_hidden_layers'],
        num_attention_heads=info['text_num_attention_heads'],
        intermediate_size=info['text_intermediate_size'])
    cfg = ChineseCLIPConfig(text_config=text, vision_config=vision,
                            projection_dim=info['embed_dim'])
    return ChineseCLIPModel(cfg).eval()


def official_to(model, device: str, dtype: torch.dtype):
    """Move/cast the official model as cn_clip's own ``convert_weights``
    does: everything in ``dtype`` except the image tower's LayerNorms, which
    compute in fp32 (cn_clip's LayerNorm subclass) and keep fp32 weights;
    the BERT runs entirely in ``dtype``."""
    from cn_clip.clip.model import LayerNorm as OfficialLayerNorm
    model.to(device, dtype)
    for module in model.modules():
        if isinstance(module, OfficialLayerNorm):
            module.float()
    return model


def text_gflop(info: dict, lengths) -> float:
    """Forward GFLOP of the BERT tower for token sequences of ``lengths``."""
    d, ff = info['text_hidden_size'], info['text_intermediate_size']
    layers = info['text_num_hidden_layers']
    total = sum(layers * (2 * L * (4 * d * d + 2 * d * ff) + 4 * L * L * d)
                for L in lengths)
    return total / 1e9
