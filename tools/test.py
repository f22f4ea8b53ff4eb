r"""Test (evaluate) an mmcnclip / mmpretrain model with mmengine's Runner.

Examples:
    python tools/test.py \
        configs/cn-clip_vit-base-p16_zeroshot-cls_cifar100.py \
        checkpoints/clip_cn_vit-b-16.pt --out metrics.json --out-item metrics
    tools/dist_test.sh CONFIG CHECKPOINT 2   # also on CPU (gloo)
"""
import argparse
import sys

import mmengine
from mmengine.config import DictAction
from mmengine.evaluator import DumpResults
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmcnclip.engine.runner_setup import (LAUNCHERS, enable_tta,
                                          finish_distributed, load_config,
                                          set_dataloader_defaults,
                                          set_local_rank, set_work_dir,
                                          setup_distributed)
from mmcnclip.models.inference import PRECISIONS
from mmcnclip.utils.preflight import check_checkpoint, check_dataset


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a model with an mmcnclip config')
    parser.add_argument('config', help='test config file')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint: any layout mmcnclip loads (official .pt, Hugging '
        'Face folder or safetensors, mmpretrain/mmengine .pth); omit it when '
        'the config names the weights in model.pretrained (e.g. the two '
        'Taiyi-CLIP towers)')
    parser.add_argument(
        '--work-dir', help='directory for logs and evaluation metrics')
    parser.add_argument(
        '--out', help='file to dump predictions or metrics to (.pkl/.json)')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        help='what --out holds; predictions when not given')
    parser.add_argument(
        '--show-dir', help='directory to save visualised predictions to')
    parser.add_argument(
        '--show', action='store_true', help='show predictions in a window')
    parser.add_argument(
        '--interval', type=int, default=1,
        help='visualise every n-th sample (default 1)')
    parser.add_argument(
        '--wait-time', type=float, default=2,
        help='seconds each shown window stays open (default 2)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs such as '
        'test_dataloader.batch_size=8 or '
        'test_dataloader.dataset.pipeline.1.scale=336; lists as key="[a,b]" '
        '(quotes needed, no spaces)')
    parser.add_argument(
        '--amp', action='store_true',
        help='test with automatic mixed precision')
    parser.add_argument(
        '--tta', action='store_true',
        help='test-time augmentation as in mmpretrain: the config\'s '
        'tta_model/tta_pipeline, by default class scores averaged over the '
        'image and its horizontal flip (classification configs)')
    prepare = parser.add_mutually_exclusive_group()
    prepare.add_argument(
        '--prepare', choices=list(PRECISIONS),
        help='precision of the model prepared for inference (folded '
        'weights, fused layers on the kernels measured fastest on this CPU; '
        'mmcnclip.PrepareForInferenceHook). mmcnclip models are prepared in '
        'fp32 by default: results equal the unprepared model up to rounding')
    prepare.add_argument(
        '--no-prepare', action='store_true',
        help='test the unprepared model (bitwise the official computation)')
    parser.add_argument(
        '--no-pin-memory', action='store_true',
        help='disable pin_memory in the dataloader')
    parser.add_argument(
        '--launcher', choices=LAUNCHERS, default='none',
        help='job launcher (pytorch for tools/dist_test.sh)')
    # torch.distributed.launch passes --local-rank (torch >= 2.0).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.out is None and args.out_item is not None:
        parser.error('--out-item needs --out')
    return args


def merge_args(cfg, args):
    """Merge the command line into ``cfg`` (in place) and return it.

    Args:
        cfg (mmengine.Config): The loaded config.
        args (argparse.Namespace): From :func:`parse_args`.

    Returns:
        mmengine.Config: ``cfg``.
    """
    set_work_dir(cfg, args.work_dir, args.config)
    cfg.load_from = args.checkpoint
    cfg.custom_hooks = list(cfg.get('custom_hooks', None) or []) + [
        dict(type='mmcnclip.DatasetProgressHook')]
    if args.amp:
        cfg.setdefault('test_cfg', dict())
        cfg.test_cfg.fp16 = True
    if args.prepare or args.no_prepare:
        cfg.custom_hooks = list(cfg.get('custom_hooks', None) or []) + [
            dict(type='mmcnclip.PrepareForInferenceHook',
                 dtype=None if args.no_prepare else args.prepare)]
    if args.show or args.show_dir is not None:
        hooks = cfg.get('default_hooks', {})
        if 'visualization' not in hooks:
            raise ValueError(
                '--show/--show-dir need a visualization hook: set '
                'default_hooks.visualization=dict('
                'type="mmcnclip.PredictionPicturesHook") '
                '(configs/_base_/default_runtime.py has one)')
        hooks.visualization.update(
            enable=True, show=args.show, wait_time=args.wait_time,
            out_dir=args.show_dir, interval=args.interval)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.tta:
        enable_tta(cfg)
    set_dataloader_defaults(cfg, ['test_dataloader'], args.no_pin_memory)
    if args.checkpoint is None and not cfg.model.get('pretrained'):
        raise ValueError(
            f'{args.config}: give a checkpoint, or name the weights in '
            'model.pretrained')
    return cfg


def main(argv=None):
    """Run the test loop; returns the metrics dict."""
    args = parse_args(argv)
    set_local_rank(args.local_rank)
    cfg = merge_args(load_config(args.config), args)
    try:  # before the model is built: a missing file is found in a second
        check_checkpoint(args.checkpoint)
        check_dataset((cfg.get('test_dataloader') or {}).get('dataset'))
    except FileNotFoundError as e:
        sys.exit(f'tools/test.py: error: {e}')
    setup_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else \
        RUNNERS.build(cfg)
    if args.checkpoint is None:  # the weights named by model.pretrained
        model = runner.model
        (model.module if is_model_wrapper(model) else model).init_weights()
    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if args.out and args.out_item == 'metrics' and runner.rank == 0:
        mmengine.dump(metrics, args.out)
    finish_distributed()
    return metrics


if __name__ == '__main__':
    main()
