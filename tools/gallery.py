r"""Chinese text -> image search over your own photo folder.

Examples (offline, on the shapes data and the tiny model of
configs/shapes/cn-clip_tiny_shapes.py)::

    python tools/gallery.py index configs/shapes/cn-clip_tiny_shapes.py \
        work_dirs/cn-clip_tiny_shapes/iter_400.pth data/shapes/zeroshot/test \
        --db gallery.db
    python tools/gallery.py search --db gallery.db --text 红色的圆形 --json
    python tools/gallery.py serve --db gallery.db --port 8000
"""
import argparse
import contextlib
import json
import sys

from mmcnclip.gallery import (GalleryModel, GallerySearch, ThumbnailCache,
                              index_folder)
from mmcnclip.gallery.vector_index import KINDS
from mmcnclip.models.inference import PRECISIONS


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (``index``, ``search`` or ``serve``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    idx = sub.add_parser('index', help='index or update a photo folder')
    idx.add_argument('config', help='model config (with a test pipeline)')
    idx.add_argument('checkpoint', help='checkpoint: any layout mmcnclip '
                     'loads')
    idx.add_argument('folder', help='photo folder (searched recursively)')
    idx.add_argument('--db', required=True, help='SQLite database (created '
                     'if missing; the faiss index goes to DB.faiss)')
    idx.add_argument('--batch-size', type=int, default=32)
    idx.add_argument('--workers', type=int, default=2,
                     help='decoding processes (default 2)')
    idx.add_argument('--fp16', action='store_true',
                     help='store float16 vectors (new database only)')
    idx.add_argument('--index-kind', choices=KINDS, default='auto',
                     help='exact, ivf, hnsw or auto (exact up to 200k '
                     'images; default)')
    idx.add_argument('--prepare', choices=list(PRECISIONS),
                     help='prepare_for_inference in this precision')
    idx.add_argument('--device', default='cpu')
    for name in ('search', 'serve'):
        p = sub.add_parser(name, help='search the gallery' if name ==
                           'search' else 'start the local web app')
        p.add_argument('--db', required=True, help='gallery database')
        p.add_argument('--config', help='model config (default: the one '
                       'recorded by index)')
        p.add_argument('--checkpoint', help='checkpoint (default: the '
                       'recorded one)')
        p.add_argument('--device', default='cpu')
    srch = sub.choices['search']
    srch.add_argument('--text', help='Chinese text query')
    srch.add_argument('--image', help='example image file')
    srch.add_argument('--text-weight', type=float, default=0.5,
                      help='weight of the text with both queries')
    srch.add_argument('--topk', type=int, default=10)
    srch.add_argument('--json', action='store_true',
                      help='print the results as JSON')
    srv = sub.choices['serve']
    srv.add_argument('--host', default='127.0.0.1',
                     help='interface (default loopback only)')
    srv.add_argument('--port', type=int, default=8000,
                     help='port (0: any free port; default 8000)')
    srv.add_argument('--thumbs', help='thumbnail cache folder (default '
                     'DB.thumbs)')
    args = parser.parse_args(argv)
    if args.command == 'search' and not (args.text or args.image):
        parser.error('give --text and/or --image')
    return args


def run_index(args) -> dict:
    model = GalleryModel(args.config, args.checkpoint, args.device,
                         args.prepare)
    summary = index_folder(model, args.folder, args.db, args.batch_size,
                           args.workers, args.fp16, args.index_kind)
    for path, message in summary['errors']:
        print(f'unreadable, skipped: {path}: {message}')
    print('{indexed} images indexed in {db} ({kind} faiss index): '
          '{added} new, {changed} changed, {removed} removed, {unchanged} '
          'unchanged; {encoded} encoded, {unreadable} unreadable'.format(
              db=args.db, **summary))
    return summary


def load_gallery(args) -> GallerySearch:
    # loading messages go to stderr: stdout is the results (--json)
    with contextlib.redirect_stdout(sys.stderr):
        return GallerySearch(args.db, args.config, args.checkpoint,
                             args.device)


def run_search(args) -> list:
    gallery = load_gallery(args)
    hits = gallery.search(text=args.text, image=args.image, k=args.topk,
                          text_weight=args.text_weight)
    if args.json:
        print(json.dumps(hits, ensure_ascii=False, indent=1))
    else:
        for hit in hits:
            print(f'{hit["rank"]:3d}. {hit["score"]:.4f}  {hit["path"]}')
    return hits


def run_serve(args) -> None:
    from mmcnclip.gallery.webapp import create_app, serve
    gallery = load_gallery(args)
    thumbs = ThumbnailCache(args.thumbs or f'{args.db}.thumbs')
    serve(create_app(gallery, thumbs), args.host, args.port)


def main(argv=None):
    """Run one sub-command."""
    args = parse_args(argv)
    return dict(index=run_index, search=run_search,
                serve=run_serve)[args.command](args)


if __name__ == '__main__':
    main()
