"""Shared fixtures: official Chinese CLIP models with random weights.

The official ``cn_clip`` package is the numerical oracle: its model is built
from its own json configs, given seeded non-trivial random weights and saved
in its native checkpoint format, which mmcnclip then loads through its normal
loading path.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: official model name -> (vision json, text json, our base config)
CN_CLIP_MODELS = {
    'RN50': ('RN50', 'RBT3-chinese', 'cn-clip_resnet50'),
    'ViT-B-16': ('ViT-B-16', 'RoBERTa-wwm-ext-base-chinese',
                 'cn-clip_vit-base-p16'),
    'ViT-L-14': ('ViT-L-14', 'RoBERTa-wwm-ext-base-chinese',
                 'cn-clip_vit-large-p14'),
    'ViT-L-14-336': ('ViT-L-14-336', 'RoBERTa-wwm-ext-base-chinese',
                     'cn-clip_vit-large-p14-336px'),
    'ViT-H-14': ('ViT-H-14', 'RoBERTa-wwm-ext-large-chinese',
                 'cn-clip_vit-huge-p14'),
}

TEXTS = ['一只猫的照片', '天安门广场上的人群。', 'a photo of 一条狗 🐶',
         '这是一个很长很长的句子，' * 6, '红色']


@pytest.fixture(autouse=True, scope='session')
def kernel_route_cache(tmp_path_factory):
    """Measured kernel routes go to a per-session folder, never to the
    user's cache (subprocess tools inherit the variable)."""
    old = os.environ.get('MMCNCLIP_CACHE_DIR')
    os.environ['MMCNCLIP_CACHE_DIR'] = str(tmp_path_factory.mktemp('cache'))
    yield os.environ['MMCNCLIP_CACHE_DIR']
    if old is None:
        os.environ.pop('MMCNCLIP_CACHE_DIR')
    else:
        os.environ['MMCNCLIP_CACHE_DIR'] = old


def model_config(name: str) -> dict:
    """Our ``model`` config for an official model name."""
    base = CN_CLIP_MODELS[name][2]
    return Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'models', f'{base}.py')).model


def randomize_(module: torch.nn.Module, seed: int = 0) -> None:
    """Give every weight and BN statistic seeded, non-trivial values."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not t.is_floating_point():
                continue
            noise = torch.randn(t.shape, generator=gen)
            parent = name.split('.')[-2] if '.' in name else ''
            if name.endswith('running_var'):
                t.copy_(0.2 + 0.2 * noise.abs())
            elif name.endswith(('running_mean', 'bias')):
                t.copy_(0.05 * noise)
            elif 'norm' in name.lower() or 'ln_' in name or \
                    parent.startswith('bn'):
                t.copy_(1 + 0.1 * noise)
            elif name.endswith('logit_scale'):
                t.fill_(3.5)
            else:
                std = (t[0].numel())**-0.5 if t.dim() > 1 else 0.05
                t.copy_(std * noise)


def build_official(name: str, seed: int = 0):
    """The official ``cn_clip`` CLIP model in fp32 with random weights."""
    pytest.importorskip('cn_clip')
    from cn_clip.clip import model as official
    root = osp.join(osp.dirname(official.__file__), 'model_configs')
    vision, text, _ = CN_CLIP_MODELS[name]
    info = {}
    for part in (vision, text):
        with open(osp.join(root, f'{part}.json')) as f:
            info.update(json.load(f))
    if isinstance(info['vision_layers'], str):
        info['vision_layers'] = json.loads(info['vision_layers'])
    torch.manual_seed(seed)
    model = official.CLIP(**info)
    randomize_(model, seed)
    return model.eval()


def save_official(model, path, half: bool = False, with_pooler=True):
    """Save like the official training code: ``module.`` keys inside
    ``state_dict``, optionally fp16, with the unused BERT pooler."""
    sd = {f'module.{k}': (v.half() if half and v.is_floating_point() else v)
          for k, v in model.state_dict().items()}
    if with_pooler:
        width = model.bert.config.hidden_size
        sd['module.bert.pooler.dense.weight'] = torch.randn(width, width)
        sd['module.bert.pooler.dense.bias'] = torch.randn(width)
    torch.save({'epoch': 1, 'step': 10, 'name': 'test', 'state_dict': sd},
               path)
    return path


def images(size: int, n: int = 2, seed: int = 1) -> torch.Tensor:
    """Normalised-looking images with distinct low-frequency content (white
    noise would give nearly identical pooled features)."""
    gen = torch.Generator().manual_seed(seed)
    coarse = 2 * torch.randn(n, 3, 4, 4, generator=gen)
    fine = 0.3 * torch.randn(n, 3, size, size, generator=gen)
    return torch.nn.functional.interpolate(
        coarse, size=(size, size), mode='bilinear') + fine


@pytest.fixture
def tmp_ckpt(tmp_path):
    """A path for a temporary checkpoint, deleted after the test."""
    path = tmp_path / 'ckpt.pt'
    yield str(path)
    if path.exists():
        path.unlink()


def official_zero_shot_scores(official, pil_images, classnames, templates):
    """The official zero-shot procedure (cn_clip/eval/zeroshot_evaluation.py:
    template-averaged prototypes, official preprocessing, 100 x cosine)."""
    from cn_clip.clip import image_transform, tokenize
    from cn_clip.eval.data import _preprocess_text
    transform = image_transform(224)
    with torch.no_grad():
        weights = []
        for name in classnames:
            texts = tokenize([_preprocess_text(t.format(name))
                              for t in templates])
            emb = official(None, texts)
            emb /= emb.norm(dim=-1, keepdim=True)
            emb = emb.mean(dim=0)
            emb /= emb.norm()
            weights.append(emb)
        weights = torch.stack(weights, dim=1)
        pixels = torch.stack([transform(img) for img in pil_images])
        feats = official(pixels, None)
        feats /= feats.norm(dim=-1, keepdim=True)
        return (100.0 * feats @ weights).softmax(dim=-1)


def run_tool(name: str, *args: str, timeout: int = 600) -> str:
    """Run ``tools/<name>`` in a subprocess (one OpenMP thread, repo on the
    path); assert it succeeds and return its stdout."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    out = subprocess.run([sys.executable, osp.join(REPO, 'tools', name),
                          *args], capture_output=True, text=True, env=env,
                         cwd=REPO, timeout=timeout)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout
