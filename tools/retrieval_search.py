r"""Search a saved retrieval index with text or image queries.

Examples:
    python tools/retrieval_search.py configs/shapes/cn-clip_tiny_shapes.py \
        work_dirs/cn-clip_tiny_shapes/iter_400.pth --index index.pt \
        --text 一个红色的圆形 \
        --image data/shapes/zeroshot/test/000/100000.png
"""
import argparse

import torch
from mmengine.config import DictAction

from mmcnclip.apis import (RetrievalIndex, image_to_text, init_retrieval_model,
                           text_to_image)
from mmcnclip.apis.index_identity import (OtherModelError, check_index_model,
                                          model_identity)
from mmcnclip.engine.runner_setup import load_config
from mmcnclip.models.inference import prepare_for_inference


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(
        description='Rank the images (for --text) or texts (for --image) of '
        'an index written by tools/extract_features.py')
    parser.add_argument('config', help='config the index was built with')
    parser.add_argument('checkpoint', help='the checkpoint of the index')
    parser.add_argument('--index', required=True, help='index file')
    parser.add_argument('--text', action='append', default=[],
                        help='text query (repeatable)')
    parser.add_argument('--image', action='append', default=[],
                        help='image file query (repeatable)')
    parser.add_argument('--topk', type=int, default=5,
                        help='results per query (default 5)')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help='dataloader whose pipeline preprocesses image '
                        'queries (default test)')
    parser.add_argument('--device', default=None,
                        help='cuda when available, else cpu')
    parser.add_argument(
        '--allow-other-model', action='store_true',
        help='search even if the index was built with other weights than '
        'CHECKPOINT (a warning instead of an error)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings (key=value)')
    args = parser.parse_args(argv)
    if not args.text and not args.image:
        parser.error('give at least one --text or --image query')
    if args.topk < 1:
        parser.error('--topk must be >= 1')
    return args


def main(argv=None):
    """Print the ranked results of every query; returns them."""
    args = parse_args(argv)
    cfg = load_config(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = init_retrieval_model(cfg, args.checkpoint, device, prepare=None)
    index = RetrievalIndex.load(args.index)
    loader = cfg.get(f'{args.split}_dataloader', None) or {}
    pipeline = loader.get('dataset', {}).get('pipeline', None)
    # the identity of the checkpoint's weights, before preparing (folding)
    check_index_model(index.model, model_identity(model, pipeline),
                      args.index, args.allow_other_model)
    prepare_for_inference(model)
    results = {}
    if args.text:
        ranked = text_to_image(model, index, args.text, args.topk)
        for query, hits in zip(args.text, ranked):
            print(f'text: {query}')
            for rank, (image_id, score) in enumerate(hits, 1):
                print(f'  {rank}. image_id={image_id} score={score:.4f}')
            results[query] = hits
    if args.image:
        ranked = image_to_text(model, index, args.image, args.topk, pipeline)
        for query, hits in zip(args.image, ranked):
            print(f'image: {query}')
            for rank, (text_id, score) in enumerate(hits, 1):
                text = index.text_of(text_id)
                print(f'  {rank}. text_id={text_id} score={score:.4f}' +
                      ('' if text is None else f' text={text}'))
            results[query] = hits
    return results


if __name__ == '__main__':
    try:
        main()
    except OtherModelError as error:
        raise SystemExit(f'retrieval_search.py: error: {error}')
