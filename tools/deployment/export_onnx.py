"""Export Chinese CLIP towers to ONNX (dynamic batch, dynamic text length).

Example::

    python tools/deployment/export_onnx.py \
        configs/_base_/models/cn-clip_vit-base-p16.py clip_cn_vit-b-16.pt \
        --tower both --out work_dirs/onnx

writes ``image.onnx`` (``images`` float32 (B, 3, H, W) -> normalised
``image_features``) and ``text.onnx`` (``input_ids`` int64 (B, L) ->
normalised ``text_features``), then checks them with onnxruntime at batch
sizes 1 and 3 when it is installed.
"""
import argparse
import os

import torch
from mmengine.config import Config

from mmcnclip.checkpoint import load_pretrained
from mmcnclip.deployment.onnx_export import TOWERS, check_onnx, export_onnx
from mmcnclip.models.inference import image_input_size


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file with a `model` dict')
    parser.add_argument('checkpoint', help='checkpoint of any layout')
    parser.add_argument('--tower', default='both',
                        choices=[*TOWERS, 'both'])
    parser.add_argument('--fp16', action='store_true',
                        help='fp16 weights (fp32 LayerNorm/softmax)')
    parser.add_argument('--out', default='onnx', help='output folder')
    parser.add_argument('--opset', type=int, default=18)
    parser.add_argument('--no-check', action='store_true',
                        help='skip the onnxruntime comparison')
    return parser.parse_args()


def main():
    args = parse_args()
    import mmcnclip  # noqa: F401  (registers modules)
    model = load_pretrained(Config.fromfile(args.config).model,
                            args.checkpoint).eval()
    os.makedirs(args.out, exist_ok=True)
    towers = TOWERS if args.tower == 'both' else (args.tower, )
    for tower in towers:
        path = export_onnx(model, tower,
                           os.path.join(args.out, f'{tower}.onnx'),
                           fp16=args.fp16, opset=args.opset)
        print(f'wrote {path}')
        if args.no_check:
            continue
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            print('onnxruntime is not installed: skipping the check')
            continue
        for batch in (1, 3):
            if tower == 'image':
                size = image_input_size(model)
                inputs = {'images': torch.randn(batch, 3, size, size)}
            else:
                texts = ['一只猫的照片', '天安门广场上的人群', '红色'][:batch]
                inputs = {'input_ids': model.tokenize(
                    texts, pad_to_longest=True)}
            diff = check_onnx(path, model, inputs)
            print(f'  {tower} batch {batch}: max |onnx - torch| = {diff:.2e}')


if __name__ == '__main__':
    main()
