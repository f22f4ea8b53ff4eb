r"""Encode a retrieval gallery (images and texts) into a saved index.

Examples:
    python tools/extract_features.py \
        configs/cn-clip_vit-base-p16_retrieval_muge-test.py \
        data/pretrained_weights/clip_cn_vit-b-16.pt --out muge_index.pt --fp16
    python tools/retrieval_search.py ... --index muge_index.pt --text 猫
"""
import argparse
import sys

import torch
from mmengine.config import DictAction
from mmengine.runner import Runner

from mmcnclip.apis import extract_features, init_retrieval_model
from mmcnclip.apis.index_identity import model_identity
from mmcnclip.engine.runner_setup import load_config, set_dataloader_defaults
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
        description='Extract normalised image and text features of a '
        'retrieval test/val set into an index file')
    parser.add_argument('config', help='retrieval config file')
    parser.add_argument(
        'checkpoint', help='checkpoint: any layout mmcnclip loads')
    parser.add_argument('--out', required=True,
                        help='index file to write (torch.save)')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help='which dataloader of the config (default test)')
    parser.add_argument('--fp16', action='store_true',
                        help='store features in float16 (half the memory)')
    prepare = parser.add_mutually_exclusive_group()
    prepare.add_argument(
        '--prepare', choices=list(PRECISIONS), default='fp32',
        help='precision of the model prepared for inference '
        '(prepare_for_inference: folded weights, fused layers) before '
        'encoding (default fp32: equal to the unprepared model up to '
        'rounding)')
    prepare.add_argument(
        '--no-prepare', action='store_true',
        help='encode with the unprepared model (bitwise the official '
        'computation)')
    parser.add_argument('--device', default=None,
                        help='cuda when available, else cpu')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. '
        'test_dataloader.dataset.data_root=data/x '
        'test_dataloader.batch_size=256')
    return parser.parse_args(argv)


def main(argv=None):
    """Extract and save the index; returns it."""
    args = parse_args(argv)
    cfg = load_config(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    field = f'{args.split}_dataloader'
    if cfg.get(field, None) is None:
        raise KeyError(f'Config {args.config} has no {field}')
    set_dataloader_defaults(cfg, [field])
    try:  # before the model is built: a missing file is found in a second
        check_checkpoint(args.checkpoint)
        check_dataset(cfg[field].get('dataset'))
    except FileNotFoundError as e:
        sys.exit(f'tools/extract_features.py: error: {e}')
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = init_retrieval_model(cfg, args.checkpoint, device, prepare=None)
    # Before preparing, which folds (changes) the weights.
    identity = model_identity(model, cfg[field].dataset.get('pipeline'))
    # The model prepares itself on its first batch (int8: calibrated on it)
    model.set_inference_precision(None if args.no_prepare else args.prepare)
    index = extract_features(model, Runner.build_dataloader(cfg[field]),
                             fp16=args.fp16, identity=identity)
    index.save(args.out)
    print(f'Saved {len(index.image_ids)} image and {len(index.text_ids)} '
          f'text features (dim {index.embed_dim}, '
          f'{"float16" if args.fp16 else "float32"}) to {args.out}')
    return index


if __name__ == '__main__':
    main()
