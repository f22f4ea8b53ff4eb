"""The models a benchmark compares: official ``cn_clip``, mmcnclip (plain,
prepared) and Hugging Face, all of one architecture and with equal weights.
"""
import json
import os.path as osp

import torch

#: official name -> (vision json, text json, our config, image GFLOP/img)
MODELS_INFO = {
    'RN50': ('RN50', 'RBT3-chinese', 'cn-clip_resnet50', 12.2),
    'ViT-B-16': ('ViT-B-16', 'RoBERTa-wwm-ext-base-chinese',
                 'cn-clip_vit-base-p16', 35.1),
    'ViT-L-14': ('ViT-L-14', 'RoBERTa-wwm-ext-base-chinese',
                 'cn-clip_vit-large-p14', 162.),
    'ViT-L-14-336': ('ViT-L-14-336', 'RoBERTa-wwm-ext-base-chinese',
                     'cn-clip_vit-large-p14-336px', 382.),
    'ViT-H-14': ('ViT-H-14', 'RoBERTa-wwm-ext-large-chinese',
                 'cn-clip_vit-huge-p14', 335.),
}
#: benchmark precision names -> dtypes
DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16,
          'fp16': torch.float16}
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def model_names() -> list:
    """Official size names the benchmark knows."""
    return list(MODELS_INFO)


def image_gflops(name: str) -> float:
    """GFLOP of the image tower per image."""
    return MODELS_INFO[name][3]


def config_path(name: str) -> str:
    """Our model config of an official size name."""
    return osp.join(REPO, 'configs', '_base_', 'models',
                    MODELS_INFO[name][2] + '.py')


def official_info(name: str) -> dict:
    """The official json config (vision + text) of ``name``."""
    from cn_clip.clip import model as official
    root = osp.join(osp.dirname(official.__file__), 'model_configs')
    info = {}
    for part in MODELS_INFO[name][:2]:
        with open(osp.join(root, f'{part}.json')) as f:
            info.update(json.load(f))
    if isinstance(info['vision_layers'], str):
        info['vision_layers'] = json.loads(info['vision_layers'])
    return info


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

    import mmcnclip  # noqa: F401
    from mmcnclip.registry import MODELS
    cfg = Config.fromfile(config_path(name)).model
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
