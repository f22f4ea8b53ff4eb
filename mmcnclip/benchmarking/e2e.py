"""End-to-end zero-shot benchmark: the whole job as users run it.

``tools/test.py`` (prepared by default, unprepared with ``--no-prepare``,
optionally int8) and the official ``cn_clip.eval.zeroshot_evaluation`` (on
the CPU through ``tools/official_cpu_shim.py``) run as subprocesses on the
same generated JPEG datasets and checkpoint; decode + resize + encode +
prototypes + metric. Steady-state images/s comes from the time between the
end of the first and of the last test batch (the first batch also prepares
the model and builds the text prototypes); whole-run wall time is reported
too, as are one-off costs measured in this process.
"""
import json
import os
import os.path as osp
import pickle
import subprocess
import sys
import tempfile
import time
from typing import Optional, Sequence, Tuple

import torch

from .images import write_cifar_dataset, write_folder_dataset
from mmcnclip.model_table import MODEL_TABLE

from .models import (REPO, build_official, build_ours, official_info,
                     zero_shot_config_path)
from .timing import interleaved

#: dataset format -> (shipped zero-shot config suffix, dataset subfolder)
FORMATS = {'cifar': 'cifar100', 'folder': 'elevater-folder'}
SHIM = osp.join(REPO, 'tools', 'official_cpu_shim.py')


def write_checkpoint(name: str, path: str) -> dict:
    """A random official-format checkpoint (logit scale ln 100, as in the
    released ones); returns the official state dict."""
    official = build_official(name)
    with torch.no_grad():
        official.logit_scale.fill_(torch.log(torch.tensor(100.)))
    state = official.state_dict()
    torch.save({'epoch': 0, 'step': 0, 'state_dict': {
        f'module.{k}': v for k, v in state.items()}}, path)
    return state


def steady_rate(batches: Sequence[Tuple[float, int]]) -> float:
    """Images/s between the end of the first and of the last batch."""
    if len(batches) < 2:
        return float('nan')
    images = sum(n for _, n in batches[1:])
    return images / (batches[-1][0] - batches[0][0])


def _run(cmd, env=None) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                         env=dict(os.environ, **(env or {})))
    if out.returncode:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n{out.stdout[-3000:]}'
                           f'\n{out.stderr[-3000:]}')
    return time.perf_counter() - start


def _num_lines(path: str) -> int:
    with open(path, encoding='utf-8') as f:
        return sum(1 for line in f if line.strip())


def _config_name(name: str, fmt: str) -> str:
    return zero_shot_config_path(name, FORMATS[fmt])


def run_ours(name: str, fmt: str, data_root: str, label_file: str,
             ckpt: str, workdir: str, tag: str, batch: int, workers: int,
             extra: Sequence[str] = ()) -> dict:
    """One ``tools/test.py`` run; returns ``wall`` (s), ``rate`` (steady
    images/s), ``first`` (s from loop start to the first batch's end, which
    includes preparing the model and the prototypes), ``top1`` and
    ``preds`` (predicted labels)."""
    times = osp.join(workdir, f'{tag}.times.json')
    preds = osp.join(workdir, f'{tag}.preds.pkl')
    cfg = osp.join(workdir, f'{tag}.py')
    dataset_classes = f', classes={label_file!r}' if fmt == 'cifar' else ''
    with open(cfg, 'w') as f:
        f.write(f'_base_ = [{_config_name(name, fmt)!r}]\n'
                "custom_imports = dict(imports=['mmcnclip.benchmarking.hooks']"
                ', allow_failed_imports=False)\n'
                "custom_hooks = [dict(type='mmcnclip.TestTimerHook', "
                f'out_file={times!r})]\n'
                f'model = dict(classes={label_file!r})\n'
                f'test_dataloader = dict(batch_size={batch}, '
                f'num_workers={workers}, persistent_workers=False, '
                f'dataset=dict(data_root={data_root!r}{dataset_classes}))\n'
                "default_hooks = dict(logger=dict(interval=1000))\n"
                "test_evaluator = dict(type='Accuracy', topk="
                f"{(1, 5) if _num_lines(label_file) >= 5 else (1, )})\n")
    wall = _run([sys.executable, osp.join(REPO, 'tools', 'test.py'), cfg,
                 ckpt, '--work-dir', osp.join(workdir, 'work'), '--out',
                 preds, *extra])
    with open(times) as f:
        record = json.load(f)
    with open(preds, 'rb') as f:
        dumped = pickle.load(f)
    labels = [int(d['pred_label']) for d in dumped]
    top1 = 100 * sum(int(d['gt_label']) == p
                     for d, p in zip(dumped, labels)) / len(labels)
    batches = record['batches']
    return dict(wall=wall, rate=steady_rate(batches), top1=top1,
                first=batches[0][0] - record['start'], preds=labels)


def run_official(name: str, data_root: str, label_file: str, ckpt: str,
                 workdir: str, batch: int, workers: int) -> dict:
    """The official ``zeroshot_evaluation.py`` in fp32 on the CPU (shim);
    same keys as :func:`run_ours` plus ``prototypes`` (s)."""
    vision, text = MODEL_TABLE[name].vision_json, MODEL_TABLE[name].text_json
    times = osp.join(workdir, 'official.times.json')
    save = osp.join(workdir, 'official')
    os.makedirs(save, exist_ok=True)
    wall = _run([sys.executable, SHIM, 'cn_clip.eval.zeroshot_evaluation',
                 '--vision-model', vision, '--text-model', text,
                 '--precision', 'fp32', '--label-file', label_file,
                 '--datapath', osp.join(data_root, 'test'), '--dataset',
                 'bench', '--img-batch-size', str(batch), '--num-workers',
                 str(workers), '--resume', ckpt, '--save-dir', save],
                env=dict(OFFICIAL_LOOP_TIMES=times))
    with open(times) as f:
        protos, images = json.load(f)
    with open(osp.join(save, 'bench.json')) as f:
        logits = torch.tensor(json.load(f)['predictions'][0])
    labels = logits.argmax(dim=1).tolist()
    truth = [int(t) for t in torch.tensor(labels_of(data_root))]
    return dict(wall=wall, rate=steady_rate(images['items']),
                top1=100 * sum(a == b for a, b in zip(labels, truth)) /
                len(labels),
                first=images['items'][0][0] - images['start'],
                prototypes=protos['items'][-1][0] - protos['start'],
                preds=labels)


def labels_of(data_root: str) -> list:
    """Labels of an image folder in ImageFolder order (sorted folders)."""
    test = osp.join(data_root, 'test')
    return [i for i, d in enumerate(sorted(os.listdir(test)))
            for _ in os.listdir(osp.join(test, d))]


def tower_rates(name: str, state: dict, batch: int, rounds: int) -> tuple:
    """Image-tower images/s (best of ``rounds``, interleaved) of the
    official model and of the prepared mmcnclip model, at ``batch``, and
    the linear kernel routes of the prepared model."""
    from mmcnclip.models.layers.fused_linear import linear_routes
    from mmcnclip.models.inference import prepare_for_inference
    official = build_official(name)
    official.load_state_dict(state)
    ours = prepare_for_inference(build_ours(name, state,
                                            inference_precision=None))
    size = official_info(name)['image_resolution']
    x = torch.randn(batch, 3, size, size)
    best = interleaved({'official': lambda: official.encode_image(x),
                        'prepared': lambda: ours.encode_image(x)}, rounds)
    return {k: batch / b for k, (_, b) in best.items()}, linear_routes(ours)


def one_off_costs(name: str, ckpt: str, classnames: Sequence[str],
                  workdir: str) -> dict:
    """Seconds of: building the model and loading the checkpoint; the text
    prototypes of ``classnames`` x the 183 openai templates with the
    unprepared and the prepared text tower; reading them from the
    prototype cache file."""
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    from mmcnclip.models.inference import prepare_for_inference
    from mmcnclip.registry import MODELS
    cfg = Config.fromfile(_config_name(name, 'folder')).model
    cfg.update(classes=list(classnames), inference_precision=None,
               head=dict(cache_file=osp.join(workdir, 'protos.pth')))
    out = {}
    start = time.perf_counter()
    model = MODELS.build(cfg)
    load_checkpoint(model, ckpt, map_location='cpu', strict=True,
                    logger='silent')
    model.eval()
    out['model build + checkpoint load'] = time.perf_counter() - start
    n = f'{len(classnames)} classes x 183 templates'
    head = model.head
    with torch.inference_mode():
        start = time.perf_counter()
        head.encode_prototypes(head.classnames, head.templates)
        out[f'prototypes {n}, unprepared'] = time.perf_counter() - start
        prepare_for_inference(model)
        start = time.perf_counter()
        head.get_prototypes()  # computed and written to the cache file
        out[f'prototypes {n}, prepared'] = time.perf_counter() - start
        head.clear_cache()
        start = time.perf_counter()
        head.get_prototypes()
        out[f'prototypes {n}, from the cache file'] = (
            time.perf_counter() - start)
    return out


def bench_e2e(name: str, images: int = 256, batch: int = 32,
              workers: int = 2, rounds: int = 3,
              size: Tuple[int, int] = (500, 375), classes: int = 100,
              formats: Sequence[str] = ('cifar', 'folder'),
              workdir: Optional[str] = None, official: bool = True,
              int8: bool = False) -> dict:
    """The end-to-end benchmark of one model.

    Returns:
        dict: ``rows`` (one per run: ``impl``, ``best`` steady images/s,
        ``whole`` images/s over the whole process (start-up, model load,
        prototypes included), ``pct_tower``, ``x_official``,
        ``top1``, ``agree`` with the prepared fp32 predictions),
        ``one_off`` (seconds), ``routes``, ``images``, ``classes``,
        ``templates``, ``tower`` (tower images/s).
    """
    from mmcnclip.text import get_classnames, get_templates
    names = list(get_classnames('cifar100'))[:classes]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        ckpt = osp.join(tmp, 'official.pt')
        state = write_checkpoint(name, ckpt)
        tower, routes = tower_rates(name, state, batch, rounds)
        rows, one_off = [], {}
        for fmt in formats:
            rows += _bench_format(name, fmt, tmp, ckpt, names, images, size,
                                  batch, workers, official, int8, tower,
                                  one_off)
        one_off.update(one_off_costs(name, ckpt, names, tmp))
    return dict(rows=rows, one_off=one_off, routes=routes, images=images,
                classes=len(names), templates=len(get_templates('openai')),
                tower=tower)


def _bench_format(name, fmt, tmp, ckpt, names, images, size, batch,
                  workers, official, int8, tower, one_off) -> list:
    """The runs of one dataset format; their first-batch times go to
    ``one_off``."""
    root = osp.join(tmp, fmt)
    if fmt == 'folder':
        write_folder_dataset(root, names, images, size)
        official_root = root
    else:
        official_root = osp.join(tmp, 'cifar-png')
        write_cifar_dataset(root, official_root, names, images)
    label_file = osp.join(official_root, 'label_cn.txt')
    variants = {'prepared fp32': [], 'unprepared': ['--no-prepare']}
    if int8:
        variants['prepared int8'] = ['--prepare', 'int8']
    runs = {tag: run_ours(name, fmt, root, label_file, ckpt, tmp,
                          f'{fmt}-{tag.replace(" ", "-")}', batch, workers,
                          extra)
            for tag, extra in variants.items()}
    if official:
        runs['official'] = run_official(name, official_root, label_file,
                                        ckpt, tmp, batch, workers)
        one_off[f'{fmt}: official prototypes (its text loop)'] = \
            runs['official']['prototypes']
    ref = runs['prepared fp32']['preds']
    base = runs.get('official', {}).get('rate')
    rows = []
    for tag, run in runs.items():
        one_off[f'{fmt}: {tag} first batch (+ prepare, prototypes)'] = \
            run['first']
        rows.append(dict(
            impl=f'{fmt}: {tag}', best=run['rate'], whole=images / run['wall'],
            pct_tower=100 * run['rate'] / tower['prepared'],
            x_official=run['rate'] / base if base else None, top1=run['top1'],
            agree=sum(a == b for a, b in zip(run['preds'], ref)) / len(ref)))
    return rows
