"""Write ``configs/metafile.yml`` (the model index) from the model table.

Usage: ``python tools/misc/generate_metafile.py [--check]``. The table is
``mmcnclip.model_table.MODEL_TABLE``; edit it there, never the yml.
"""
import argparse
import os.path as osp
import sys

from mmcnclip.model_table import metafile_text

OUT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
               'configs', 'metafile.yml')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true',
                        help='only report whether the file is up to date')
    args = parser.parse_args()
    text = metafile_text()
    with open(OUT, encoding='utf-8') as f:
        current = f.read()
    if args.check:
        print('up to date' if current == text else f'{OUT} is stale')
        sys.exit(current != text)
    with open(OUT, 'w', encoding='utf-8') as f:
        f.write(text)
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
