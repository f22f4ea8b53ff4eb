"""Helpers to run the official ``cn_clip`` scripts on generated data.

The scripts run unmodified, in a subprocess (:mod:`helpers.processes`),
through the CPU shim ``tools/official_cpu_shim.py``. They read model
configs from ``cn_clip/clip/model_configs/<name>.json`` next to their own
file and accept only the official names, so toy sizes need a copy of the
installed (1 MB) package in which one official name holds the toy config:
:func:`cn_clip_with_configs`.
"""
import json
import os
import os.path as osp
import shutil
import sys

from .processes import REPO, free_port, run

SHIM = osp.join(REPO, 'tools', 'official_cpu_shim.py')

#: toy sizes of :func:`test_checkpoint.tiny_models.tiny_official` as
#: official model configs (vision and text halves)
TINY_VIT_JSON = dict(embed_dim=32, image_resolution=56, vision_layers=2,
                     vision_width=64, vision_patch_size=14)
TINY_TEXT_JSON = dict(
    vocab_size=21128, text_attention_probs_dropout_prob=0.1,
    text_hidden_act='gelu', text_hidden_dropout_prob=0.1,
    text_hidden_size=64, text_initializer_range=0.02,
    text_intermediate_size=128, text_max_position_embeddings=64,
    text_num_attention_heads=2, text_num_hidden_layers=2,
    text_type_vocab_size=2)


def cn_clip_with_configs(root: str, configs: dict) -> str:
    """Copy the installed ``cn_clip`` under ``root`` and add model configs.

    Args:
        root (str): Folder to put ``cn_clip`` in (the PYTHONPATH entry).
        configs (dict): ``{name: dict}`` written to
            ``cn_clip/clip/model_configs/<name>.json`` of the copy (e.g.
            ``{'ViT-B-32': TINY_VIT_JSON}``).

    Returns:
        str: ``root``.
    """
    import cn_clip
    target = osp.join(root, 'cn_clip')
    if not osp.isdir(target):
        shutil.copytree(osp.dirname(cn_clip.__file__), target,
                        ignore=shutil.ignore_patterns('__pycache__'))
    for name, cfg in configs.items():
        with open(osp.join(target, 'clip', 'model_configs', f'{name}.json'),
                  'w') as f:
            json.dump(cfg, f)
    return root


def run_official(module: str, *args: str, site: str = None,
                 cwd: str = None) -> str:
    """Run ``python -m module args`` through the CPU shim (one thread, a
    single-process "distributed" environment); fail the test with the
    output tail unless it succeeds; return stdout + stderr."""
    env = dict(LOCAL_RANK='0', RANK='0', WORLD_SIZE='1',
               MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()))
    if site:  # before site-packages: the copied cn_clip wins
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (site, REPO, os.environ.get('PYTHONPATH')) if p)
    out = run([sys.executable, SHIM, module, *args], cwd=cwd or REPO,
              env=env)
    return out.stdout + out.stderr
