"""Convert a Chinese CLIP checkpoint of any published layout to mmcnclip's.

Reads the official ``.pt`` (also fp16 and DDP ``module.`` keys), Hugging Face
(``model.safetensors``, ``pytorch_model.bin`` or their folder), mmpretrain
and mmcnclip checkpoints, safely (weights only), and writes a slim mmcnclip
checkpoint: ``{'state_dict': ..., 'meta': {...}}`` without optimizer state.

Example::

    python tools/model_converters/cnclip_to_mmcnclip.py \\
        clip_cn_vit-b-16.pt cn-clip_vit-base-p16.pth --half
"""
import argparse
import os.path as osp
import time
from typing import Optional, Sequence

from mmcnclip.checkpoint import convert_checkpoint, load_checkpoint_file
from mmcnclip.checkpoint.formats import FORMATS
from mmcnclip.checkpoint.io import resolve_weight_file
from mmcnclip.utils.atomic_save import atomic_torch_save


def _megabytes(num_bytes: int) -> str:
    return f'{num_bytes / 2**20:.1f} MiB'


def check_destination(src: str, dst: str) -> None:
    """Refuse a destination that would overwrite what ``src`` reads.

    ``dst`` may name the source another way: a symbolic or hard link to the
    weight file, or a path inside a source model folder (whose files must
    all stay intact for the folder to load).

    Raises:
        ValueError: Naming ``dst`` and the source file or folder.
    """
    weight_file = resolve_weight_file(src)
    target = osp.realpath(dst)
    if osp.isdir(target):
        raise ValueError(f'The destination {dst} is a folder; give the '
                         'path of the .pth file to write')
    if target == osp.realpath(weight_file) or (
            osp.exists(target) and osp.samefile(target, weight_file)):
        raise ValueError(f'Refusing to overwrite the source: the destination '
                         f'{dst} is the file {weight_file} that is read')
    if osp.isdir(src):
        folder = osp.realpath(src)
        if osp.commonpath([folder, target]) == folder:
            raise ValueError(
                f'Refusing to write {dst} inside the source model folder '
                f'{src}: that would change or break the source')


def convert(src: str,
            dst: str,
            half: bool = False,
            fmt: Optional[str] = None,
            log=print) -> dict:
    """Convert ``src`` into a slim mmcnclip checkpoint at ``dst``
    (:func:`mmcnclip.checkpoint.convert_checkpoint`), reporting progress.

    Args:
        src (str): Source file or Hugging Face model folder.
        dst (str): Output ``.pth`` file; its folder is created. It is
            written atomically (an existing file is replaced only once the
            new one is complete) and may not be, or lie inside, the source
            (see :func:`check_destination`).
        half (bool): Store floating-point weights as fp16. Defaults to
            False.
        fmt (str, optional): Source layout; detected from the keys when
            None. Defaults to None.
        log (callable): Receives progress lines. Defaults to :func:`print`.

    Returns:
        dict: The ``meta`` written, plus ``num_keys``, ``num_params`` and
        ``size`` (bytes of ``dst``).
    """
    check_destination(src, dst)
    start = time.time()
    weight_file = resolve_weight_file(src)
    log(f'Reading {weight_file} ({_megabytes(osp.getsize(weight_file))})')
    checkpoint = load_checkpoint_file(weight_file)
    log(f'Converting [{time.time() - start:.1f}s]')
    slim = convert_checkpoint(
        checkpoint, osp.basename(osp.normpath(src)), fmt, half)
    log(f'Writing {dst} [{time.time() - start:.1f}s]')
    atomic_torch_save(slim, dst)
    state_dict = slim['state_dict']
    info = dict(
        slim['meta'],
        num_keys=len(state_dict),
        num_params=sum(v.numel() for v in state_dict.values()),
        size=osp.getsize(dst))
    log(f'Detected format: {info["source_format"]}; wrote '
        f'{info["num_keys"]} keys ({info["num_params"] / 1e6:.1f}M '
        f'parameters, {_megabytes(info["size"])}) to {dst} '
        f'[{time.time() - start:.1f}s]')
    return info


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(
        description='Convert an official / Hugging Face / mmpretrain '
        'Chinese CLIP checkpoint to a slim mmcnclip checkpoint.')
    parser.add_argument('src', help='source file or Hugging Face folder')
    parser.add_argument('dst', help='output .pth file')
    parser.add_argument(
        '--half', action='store_true', help='store weights in fp16')
    parser.add_argument(
        '--format',
        choices=list(FORMATS),
        help='source layout, detected from the keys by default: ' + '; '.join(
            f'{name}: {spec.description}' for name, spec in FORMATS.items()))
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    return convert(args.src, args.dst, args.half, args.format)


if __name__ == '__main__':
    try:
        main()
    except (ValueError, OSError) as error:
        raise SystemExit(f'cnclip_to_mmcnclip.py: error: {error}')
