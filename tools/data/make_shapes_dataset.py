"""Write the offline "shapes" image-text dataset in Chinese-CLIP formats
(see :mod:`mmcnclip.datasets.shapes`).

Usage: python tools/data/make_shapes_dataset.py OUT_DIR --train 2000 \
           --test 240 --seed 0
"""
import argparse

from mmcnclip.datasets.shapes import CLASSES, make_dataset


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir')
    parser.add_argument('--train', type=int, default=2000)
    parser.add_argument('--test', type=int, default=240)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--size', type=int, default=32)
    args = parser.parse_args()
    make_dataset(args.out_dir, args.train, args.test, args.seed, args.size)
    print(f'Wrote {args.train} train and {args.test} test images '
          f'({len(CLASSES)} classes) to {args.out_dir}')


if __name__ == '__main__':
    main()
