"""Shared fixtures: official Chinese CLIP models with random weights.

The official ``cn_clip`` package is the numerical oracle: its model is built
from its own json configs, given seeded non-trivial random weights and saved
in its native checkpoint format, which mmcnclip then loads through its normal
loading path.
"""
import logging
import math
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mmcnclip.model_table import base_config_path, official_model_args

#: fixtures of test sub-packages, shared without nested conftest.py files
#: (those would shadow this module for ``from conftest import ...``)
pytest_plugins = ['helpers.gallery']

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

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
    return Config.fromfile(base_config_path(name)).model


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
    torch.manual_seed(seed)
    model = official.CLIP(**official_model_args(name))
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


@pytest.fixture(scope='module')
def rn50_ckpt(tmp_path_factory):
    """A random official-format RN50 checkpoint (logit scale ln 100, as in
    the released ones)."""
    official = build_official('RN50')
    with torch.no_grad():
        official.logit_scale.fill_(math.log(100))
    path = tmp_path_factory.mktemp('ckpt') / 'rn50.pt'
    save_official(official, path)
    yield str(path), official
    path.unlink()


def smooth_image(path, seed):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    img = Image.fromarray(coarse).resize((64, 48), Image.BILINEAR)
    img.save(path, quality=95)
    return str(path)


class _Records(logging.Handler):
    """Collects the records of a logger."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, level=logging.WARNING) -> list:
        """Messages logged at exactly ``level``."""
        return [r.getMessage() for r in self.records if r.levelno == level]


@pytest.fixture
def mm_log():
    """Records of mmengine's current logger (what ``print_log(...,
    logger='current')`` writes) during the test."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


class PromptCounter:
    """Counts the prompts a model's text encoder encodes (a forward hook),
    to check when zero-shot prototypes are (re)built."""

    def __init__(self, model):
        self.count = 0
        model.text_encoder.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        self.count += inputs[0].shape[0]
