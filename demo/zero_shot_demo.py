"""Zero-shot classification of images with free Chinese labels.

Example:
    python demo/zero_shot_demo.py cat.jpg dog.jpg --labels 猫 狗 鸟 \\
        --config configs/cn-clip_vit-base-p16_zeroshot-cls_cifar100.py \\
        --checkpoint checkpoints/clip_cn_vit-b-16.pt

Image files are decoded like the dataset pipeline and the official code
(PIL, no EXIF rotation): see ``mmcnclip.apis.ImageClassificationInferencer``.
"""
import argparse

from mmcnclip.apis import ImageClassificationInferencer
from mmcnclip.model_index import hook_model_hub

hook_model_hub()  # our model names take precedence in mmpretrain's hub


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--labels', nargs='+', required=True,
                        help='candidate class names, e.g. 猫 狗 鸟')
    parser.add_argument(
        '--config', default='cn-clip_resnet50_zeroshot-cls_cifar100',
        help='zero-shot config file or model name (mmpretrain.list_models)')
    parser.add_argument('--checkpoint', required=True,
                        help='checkpoint (official .pt, HF, mmpretrain)')
    parser.add_argument(
        '--templates', default='openai',
        help="template set ('openai', 'imagenet', 'single') or a file with "
        'one template per line')
    parser.add_argument('--topk', type=int, default=5,
                        help='labels printed per image (default 5)')
    parser.add_argument('--device', default=None, help='e.g. cuda:0')
    return parser.parse_args(argv)


def main(argv=None):
    """Print the ranked labels of every image; returns the results."""
    args = parse_args(argv)
    inferencer = ImageClassificationInferencer(
        args.config, pretrained=args.checkpoint, device=args.device,
        classes=args.labels,
        text_prompt=args.templates)
    results = inferencer(args.images, batch_size=len(args.images))
    for path, result in zip(args.images, results):
        scores = result['pred_scores']
        ranked = scores.argsort()[::-1][:args.topk]
        print(path)
        for rank, index in enumerate(ranked, 1):
            print(f'  {rank}. {args.labels[index]}\t{scores[index]:.4f}')
    return results


if __name__ == '__main__':
    main()
