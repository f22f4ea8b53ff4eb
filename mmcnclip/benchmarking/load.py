"""Checkpoint loading cost: peak resident memory and time, fresh process."""
import json
import os.path as osp
import subprocess
import sys
import tempfile

import torch

from mmcnclip.model_table import base_config_path

from .models import REPO, build_official

LOAD_MODES = ('load_pretrained', 'build+load_checkpoint')


def load_test(name: str, half: bool = True, tmpdir: str = None) -> dict:
    """Write a random official-format checkpoint of ``name`` (fp16 when
    ``half``), load it in a fresh process per mode and measure.

    Returns:
        dict: ``weights_bytes`` (fp32 weights) and per mode of
        :data:`LOAD_MODES` ``{'rss0', 'hwm', 'seconds'}`` (bytes, seconds).
    """
    with tempfile.TemporaryDirectory(dir=tmpdir) as tmp:
        path = osp.join(tmp, 'official.pt')
        official = build_official(name)
        state = {f'module.{k}': (v.half() if half and v.is_floating_point()
                                 else v)
                 for k, v in official.state_dict().items()}
        nbytes = sum(v.numel() * 4 for v in official.state_dict().values()
                     if v.is_floating_point())
        torch.save({'state_dict': state}, path)
        del official, state
        out = {mode: _load_in_subprocess(mode, base_config_path(name), path)
               for mode in LOAD_MODES}
    return dict(out, weights_bytes=nbytes)


def _load_in_subprocess(mode: str, cfg: str, path: str) -> dict:
    load = ('m = load_pretrained(cfg, %r)' % path
            if mode == 'load_pretrained' else
            'm = MODELS.build(cfg); load_checkpoint(m, %r, strict=True)' %
            path)
    code = (
        'import sys, time, json; sys.path.insert(0, %r)\n'
        'from mmcnclip.benchmarking.memory import proc_status_kb\n'
        'from mmengine.config import Config\n'
        'from mmengine.runner import load_checkpoint\n'
        'from mmcnclip.checkpoint import load_pretrained\n'
        'from mmcnclip.registry import MODELS\n'
        'cfg = Config.fromfile(%r).model\n'
        'rss0 = proc_status_kb("VmRSS") * 1024\n'
        't = time.perf_counter()\n'
        '%s\n'
        'dt = time.perf_counter() - t\n'
        'print(json.dumps(dict(rss0=rss0, hwm=proc_status_kb("VmHWM")'
        ' * 1024, seconds=dt)))\n') % (REPO, cfg, load)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True)
    if out.returncode:
        raise RuntimeError(f'Loading {path} ({mode}) failed:\n'
                           f'{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])
