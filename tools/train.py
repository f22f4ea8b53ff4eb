r"""Train an mmcnclip / mmpretrain model with mmengine's Runner.

Examples:
    python tools/train.py \
        configs/linear-probe/cn-clip_vit-base-p16_linear-probe_cifar100.py
    tools/dist_train.sh CONFIG 2   # also on CPU (gloo)
"""
import argparse

from mmengine.config import DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmcnclip.engine.runner_setup import (LAUNCHERS, enable_amp,
                                          finish_distributed, load_config,
                                          set_dataloader_defaults,
                                          set_local_rank, set_work_dir,
                                          setup_distributed)


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(
        description='Train a model with an mmcnclip config')
    parser.add_argument('config', help='train config file')
    parser.add_argument(
        '--work-dir', help='directory for logs and checkpoints')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or (without a value) from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--amp', action='store_true',
        help='train with automatic mixed precision (mmengine\'s '
        'AmpOptimWrapper: fp16 with dynamic loss scaling; needs a GPU, NPU, '
        'MLU or MUSA device)')
    parser.add_argument(
        '--no-validate', action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate by actual / auto_scale_lr.base_batch_'
        'size')
    parser.add_argument(
        '--no-pin-memory', action='store_true',
        help='disable pin_memory in the dataloaders')
    parser.add_argument(
        '--no-persistent-workers', action='store_true',
        help='disable persistent_workers in the dataloaders')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs such as '
        'train_dataloader.batch_size=8; lists as key="[a,b]" (quotes '
        'needed, no spaces)')
    parser.add_argument(
        '--launcher', choices=LAUNCHERS, default='none',
        help='job launcher (pytorch for tools/dist_train.sh)')
    # torch.distributed.launch passes --local-rank (torch >= 2.0).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def merge_args(cfg, args):
    """Merge the command line into ``cfg`` (in place) and return it.

    Args:
        cfg (mmengine.Config): The loaded config.
        args (argparse.Namespace): From :func:`parse_args`.

    Returns:
        mmengine.Config: ``cfg``.
    """
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    set_work_dir(cfg, args.work_dir, args.config)
    if args.amp:
        enable_amp(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.auto_scale_lr:  # after --cfg-options, which may supply it
        if 'base_batch_size' not in (cfg.get('auto_scale_lr') or {}):
            raise ValueError(
                '--auto-scale-lr needs `auto_scale_lr = dict('
                'base_batch_size=N)` in the config or as --cfg-options '
                'auto_scale_lr.base_batch_size=N')
        cfg.auto_scale_lr.enable = True
    set_dataloader_defaults(
        cfg, ['train_dataloader', 'val_dataloader', 'test_dataloader'],
        args.no_pin_memory, args.no_persistent_workers)
    return cfg


def main(argv=None):
    """Run the training loop; returns the trained model."""
    args = parse_args(argv)
    set_local_rank(args.local_rank)
    cfg = merge_args(load_config(args.config), args)
    setup_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else \
        RUNNERS.build(cfg)
    model = runner.train()
    finish_distributed()
    return model


if __name__ == '__main__':
    main()
