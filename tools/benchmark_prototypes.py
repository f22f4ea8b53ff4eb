"""Benchmark the building of zero-shot text prototypes.

Compares, on the same mmcnclip text tower (random weights):

* ``batched``: :class:`~mmcnclip.models.heads.ZeroShotClsHead` (all prompts
  of all classes in batches, sorted by length, padded to the longest);
* ``per-class``: the loop of mmpretrain's
  ``ChineseCLIP.prepare_text_prototype`` (one forward per class with its
  prompts padded to the context length, 52), re-implemented on our tower;
* ``cache hit``: a second request with unchanged weights and classes.

Example:
    python tools/benchmark_prototypes.py                 # RBT3, CIFAR-100
    python tools/benchmark_prototypes.py --text-arch base --num-classes 20
"""
import argparse
import time

import torch

from mmcnclip.registry import MODELS
from mmcnclip.text import get_classnames, get_templates, normalize_text

#: text arch -> (BertTextEncoder arch, embedding width)
TEXT_ARCHS = {'rbt3': ('rbt3', 1024), 'base': ('base', 512),
              'large': ('large', 1024)}


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Defaults to ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--text-arch', choices=sorted(TEXT_ARCHS),
                        default='rbt3', help='text tower (default rbt3)')
    parser.add_argument('--classes', default='cifar100',
                        help='class-name set or file (default cifar100)')
    parser.add_argument('--num-classes', type=int, default=None,
                        help='use only the first N classes (default all)')
    parser.add_argument('--templates', default='openai',
                        help='template set or file (default openai, 183)')
    parser.add_argument('--batch-size', type=int, default=512,
                        help='prompts per batch of the batched path')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch intra-op threads (default: unchanged)')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def per_class_prototypes(model, classnames, templates) -> torch.Tensor:
    """mmpretrain's loop: one forward per class, prompts padded to 52."""
    out = []
    for name in classnames:
        texts = [normalize_text(t.format(name)) for t in templates]
        feats = model.encode_text(model.tokenize(texts)).float()
        feats = feats / feats.norm(dim=-1, keepdim=True)
        mean = feats.mean(dim=0)
        out.append(mean / mean.norm())
    return torch.stack(out)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main(argv=None) -> dict:
    """Run the benchmark and print the times; returns them in seconds."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    arch, width = TEXT_ARCHS[args.text_arch]
    classnames = get_classnames(args.classes)[:args.num_classes]
    templates = get_templates(args.templates)
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='mmcnclip.ZeroShotClassifier',
        # The image tower is not used: the smallest one that builds.
        backbone=dict(type='mmcnclip.CLIPVisionTransformer',
                      arch=dict(embed_dims=16, num_layers=1, num_heads=1,
                                feedforward_channels=16),
                      img_size=16, patch_size=16),
        text_encoder=dict(type='mmcnclip.BertTextEncoder', arch=arch),
        text_proj=dict(type='mmcnclip.CLIPProjection', in_channels=768
                       if arch != 'large' else 1024, out_channels=width),
        head=dict(classnames=classnames, templates=templates,
                  text_batch_size=args.batch_size, progress=False)))
    model.to(args.device).eval()
    head = model.head
    n = len(classnames) * len(templates)
    print(f'{args.text_arch}: {len(classnames)} classes x {len(templates)} '
          f'templates = {n} prompts, {torch.get_num_threads()} threads')

    with torch.no_grad():
        batched, t_batched = timed(head.get_prototypes)
        again, t_hit = timed(head.get_prototypes)
        assert again is batched, 'cache miss on unchanged weights'
        loop, t_loop = timed(
            lambda: per_class_prototypes(model, classnames, templates))
    diff = float((batched - loop).abs().max())
    print(f'batched, padded to longest : {t_batched:9.3f} s')
    print(f'per class, padded to 52    : {t_loop:9.3f} s  '
          f'({t_loop / t_batched:.2f}x the batched time)')
    print(f'cache hit                  : {t_hit * 1e3:9.3f} ms '
          f'({t_batched / max(t_hit, 1e-9):.0f}x faster than building)')
    print(f'max |batched - per class|  : {diff:.2e}')
    return dict(batched=t_batched, per_class=t_loop, cache_hit=t_hit,
                max_abs_diff=diff)


if __name__ == '__main__':
    main()
