r"""Benchmark the photo gallery: indexing throughput and search latency.

* ``indexing``: photos (synthetic 640x480 JPEGs) indexed by
  ``mmcnclip.gallery.index_folder`` (decode in DataLoader workers, resize,
  encode, SQLite commit, faiss build) vs the pure image tower on ready
  tensors of the same prepared model and of the official ``cn_clip`` model
  in the same run, images/s and ratios.
* ``search``: p50/p99 single-query latency of exact and approximate faiss
  indexes over N random unit vectors, recall@10 of the approximate ones vs
  exact, and the text-query end-to-end latency (tokenise + text tower of
  the model + search).

Examples::

    python tools/benchmark_gallery.py indexing --images 256
    python tools/benchmark_gallery.py search --sizes 10000 100000 1000000
"""
import argparse
import gc
import os
import os.path as osp
import tempfile
import time

import numpy as np
import torch

from mmcnclip.benchmarking.models import build_official
from mmcnclip.gallery import GalleryModel, VectorIndex, index_folder
from mmcnclip.gallery.vector_index import ivf_lists

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
RN50_CONFIG = osp.join(REPO, 'configs',
                       'cn-clip_resnet50_retrieval_muge-test.py')


def percentiles(times_s) -> tuple:
    """p50 and p99 in milliseconds."""
    ms = 1000 * np.asarray(times_s)
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def write_photos(folder: str, count: int, seed: int = 0) -> None:
    """``count`` 640x480 JPEG photos with smooth random content."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        img = Image.fromarray(coarse).resize((640, 480), Image.BICUBIC)
        img.save(osp.join(folder, f'{i:06d}.jpg'), quality=90)


def tower_rate(encode, batch: int, rounds: int) -> float:
    """Images/s of ``encode`` on a ready (batch, 3, 224, 224) tensor."""
    pixels = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        encode(pixels)
        start = time.perf_counter()
        for _ in range(rounds):
            encode(pixels)
    return batch * rounds / (time.perf_counter() - start)


def bench_indexing(args) -> None:
    official = build_official('RN50')
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = osp.join(tmp, 'rn50.pt')
        torch.save({'state_dict': {f'module.{k}': v for k, v in
                                   official.state_dict().items()}}, ckpt)
        photos = osp.join(tmp, 'photos')
        write_photos(photos, args.images)
        model = GalleryModel(RN50_CONFIG, ckpt, prepare='fp32')
        ours = tower_rate(model.model.encode_image, args.batch, args.rounds)
        theirs = tower_rate(official.encode_image, args.batch, args.rounds)
        start = time.perf_counter()
        index_folder(model, photos, osp.join(tmp, 'g.db'), args.batch,
                     args.workers, progress=False)
        pipeline = args.images / (time.perf_counter() - start)
    print(f'| RN50 (prepared fp32), batch {args.batch}, {args.workers} '
          f'decoding workers, {torch.get_num_threads()} torch threads | '
          'images/s | vs our tower | vs official tower |')
    print('| --- | --- | --- | --- |')
    print(f'| official cn_clip image tower (tensors) | {theirs:.1f} | '
          f'{theirs / ours:.2f} | 1.00 |')
    print(f'| our image tower (tensors) | {ours:.1f} | 1.00 | '
          f'{ours / theirs:.2f} |')
    print(f'| gallery indexing ({args.images} JPEG 640x480: decode, '
          f'resize, encode, SQLite, faiss) | {pipeline:.1f} | '
          f'{pipeline / ours:.2f} | {pipeline / theirs:.2f} |')


def unit_vectors(n: int, dim: int, seed: int, data: str = 'uniform',
                 chunk: int = 65536):
    """Yield ``n`` random unit vectors (float32) in chunks.

    ``uniform``: uniformly distributed on the sphere (no structure: every
    point is almost equally far from every other). ``clustered``: around
    1000 random centres (cosine ~0.7 to their centre), closer to real image
    embeddings, which are far from uniform.
    """
    centres = None
    if data == 'clustered':
        centres = next(unit_vectors(1000, dim, seed=2**31))
    for start in range(0, n, chunk):
        rng = np.random.default_rng([seed, start])
        x = rng.standard_normal((min(chunk, n - start), dim),
                                dtype=np.float32)
        if centres is not None:
            x = centres[rng.integers(0, len(centres), len(x))] + \
                x / np.sqrt(dim)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        yield x


def latencies(search, queries: np.ndarray, k: int = 10):
    """Per-query times of ``search(query (1, D), k) -> ids (1, k)`` and
    the ids found."""
    search(queries[:1], k)
    times, ids = [], []
    for q in queries:
        start = time.perf_counter()
        found = search(q[None], k)
        times.append(time.perf_counter() - start)
        ids.append(np.asarray(found, dtype=np.int64).reshape(-1)[:k])
    return times, np.stack(ids)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true top-k found."""
    return float(np.mean([len(set(f) & set(t)) / len(t)
                          for f, t in zip(found, truth)]))


def fill(add, n: int, dim: int, seed: int, data: str) -> None:
    """``add(vectors, ids)`` chunk by chunk (one copy of the data)."""
    start = 0
    for x in unit_vectors(n, dim, seed, data):
        add(x, np.arange(start, start + len(x), dtype=np.int64))
        start += len(x)


def faiss_search(index):
    return lambda q, k: index.search(q, k)[1]


def approximate(n: int, dim: int, args):
    """``(name, build() -> (search, [(setting, apply)]))`` candidates."""
    import faiss

    def ivf():
        nlist = ivf_lists(n)
        index = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(dim), dim, nlist,
            faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT) \
            if args.fp16 else faiss.IndexIVFFlat(
                faiss.IndexFlatIP(dim), dim, nlist,
                faiss.METRIC_INNER_PRODUCT)
        kind = 'SQfp16' if args.fp16 else 'Flat'
        index.train(np.concatenate(list(unit_vectors(
            min(n, args.train_per_list * nlist), dim, n, args.data))))
        fill(index.add_with_ids, n, dim, n, args.data)
        return faiss_search(index), [
            (f'IVF{nlist},{kind} nprobe={p}',
             lambda p=p: setattr(index, 'nprobe', p)) for p in args.nprobe]

    def hnsw():
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        fill(lambda x, ids: index.add(x), n, dim, n, args.data)
        return faiss_search(index), [
            (f'HNSW32 efSearch={e}',
             lambda e=e: setattr(index.hnsw, 'efSearch', e))
            for e in args.ef_search]

    def usearch():
        from usearch.index import Index
        index = Index(ndim=dim, metric='ip', dtype='f32', connectivity=32)
        fill(lambda x, ids: index.add(ids, x), n, dim, n, args.data)
        return (lambda q, k: index.search(q, k).keys), [
            (f'usearch HNSW32 expansion={e}',
             lambda e=e: setattr(index, 'expansion_search', e))
            for e in args.ef_search]

    def hnswlib_():
        import hnswlib
        index = hnswlib.Index(space='ip', dim=dim)
        index.init_index(max_elements=n, M=32, ef_construction=128)
        fill(index.add_items, n, dim, n, args.data)
        return (lambda q, k: index.knn_query(q, k)[0]), [
            (f'hnswlib HNSW32 ef={e}', lambda e=e: index.set_ef(e))
            for e in args.ef_search]

    out = [('faiss IVF', ivf)]
    if n <= args.hnsw_max:
        out.append(('faiss HNSW', hnsw))
        if args.peers:
            out += [('usearch', usearch), ('hnswlib', hnswlib_)]
    return out


def true_topk(queries: np.ndarray, n: int, dim: int, seed: int, data: str,
              k: int = 10) -> np.ndarray:
    """Exact fp32 top-``k`` ids, streamed over the regenerated gallery
    (no second copy of it in memory)."""
    best_s = np.full((len(queries), 0), -np.inf, np.float32)
    best_i = np.zeros((len(queries), 0), np.int64)
    start = 0
    for x in unit_vectors(n, dim, seed, data):
        s = np.concatenate([best_s, queries @ x.T], 1)
        i = np.concatenate([best_i, np.broadcast_to(
            np.arange(start, start + len(x)), (len(queries), len(x)))], 1)
        top = np.argsort(-s, axis=1)[:, :k]
        best_s = np.take_along_axis(s, top, 1)
        best_i = np.take_along_axis(i, top, 1)
        start += len(x)
    return best_i


def bench_size(n: int, args, text_model) -> tuple:
    """Rows of the search table for ``n`` gallery vectors and the text
    end-to-end latency over the exact index."""
    dim, rows = args.dim, []
    queries = next(unit_vectors(args.queries, dim, 10**6, args.data))
    exact = VectorIndex.build(np.zeros(0, np.int64),
                              np.zeros((0, dim), np.float32), 'exact',
                              fp16=args.fp16, dim=dim)
    start = time.perf_counter()
    fill(exact.index.add_with_ids, n, dim, n, args.data)
    build = time.perf_counter() - start
    times, found = latencies(faiss_search(exact),
                             queries[:args.exact_queries])
    e2e = end_to_end(text_model, exact, args.text_queries)
    del exact
    gc.collect()
    truth = true_topk(queries, n, dim, n, args.data)
    rows.append((n, f'faiss exact ({"fp16" if args.fp16 else "fp32"} flat)',
                 build, *percentiles(times),
                 recall_at_k(found, truth[:args.exact_queries])))
    for _, make in approximate(n, dim, args):
        start = time.perf_counter()
        search, settings = make()
        build = time.perf_counter() - start
        for name, apply in settings:
            apply()
            times, found = latencies(search, queries)
            rows.append((n, name, build, *percentiles(times),
                         recall_at_k(found, truth)))
        del search, settings
        gc.collect()
    return rows, e2e


def end_to_end(text_model, index: VectorIndex, count: int):
    """p50/p99 of tokenise + text tower + normalise + exact search."""
    if text_model is None:
        return None
    texts = [f'一张{c}的照片' for c in '猫狗鸟鱼车船花树山海人楼'][:count]
    text_model.encode_texts(texts[:1])
    times = []
    for t in texts:
        start = time.perf_counter()
        index.search(text_model.encode_texts([t]), 10)
        times.append(time.perf_counter() - start)
    return percentiles(times)


def bench_search(args) -> None:
    import faiss
    faiss.omp_set_num_threads(args.threads)
    text_model = None
    if args.dim == 1024 and not args.no_text:  # RN50's embedding width
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = osp.join(tmp, 'rn50.pt')
            official = build_official('RN50')
            torch.save({'state_dict': {f'module.{k}': v for k, v in
                                       official.state_dict().items()}}, ckpt)
            del official
            text_model = GalleryModel(RN50_CONFIG, ckpt, prepare='fp32')
    print(f'faiss {faiss.__version__}, {args.threads} search thread(s), '
          f'{torch.get_num_threads()} torch threads, {args.data} unit '
          f'vectors of dim {args.dim}, {args.queries} queries (exact: '
          f'{args.exact_queries}), one query per call')
    print('| vectors | index | build s | p50 ms | p99 ms | recall@10 |')
    print('| --- | --- | --- | --- | --- | --- |')
    e2e_rows = []
    for n in args.sizes:
        rows, e2e = bench_size(n, args, text_model)
        for r in rows:
            print(f'| {r[0]:,} | {r[1]} | {r[2]:.1f} | {r[3]:.2f} | '
                  f'{r[4]:.2f} | {r[5]:.3f} |', flush=True)
        e2e_rows.append((n, e2e))
    if text_model is not None:
        print('\ntext query end to end (tokenise + RN50 text tower + exact '
              'search)')
        print('| vectors | p50 ms | p99 ms |')
        print('| --- | --- | --- |')
        for n, (p50, p99) in e2e_rows:
            print(f'| {n:,} | {p50:.1f} | {p99:.1f} |')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    idx = sub.add_parser('indexing', help='indexing throughput (RN50)')
    idx.add_argument('--images', type=int, default=256)
    idx.add_argument('--batch', type=int, default=32)
    idx.add_argument('--workers', type=int, default=2)
    idx.add_argument('--rounds', type=int, default=4,
                     help='timed tower batches')
    srch = sub.add_parser('search', help='search latency and recall')
    srch.add_argument('--sizes', type=int, nargs='+',
                      default=[10_000, 100_000])
    srch.add_argument('--dim', type=int, default=1024)
    srch.add_argument('--queries', type=int, default=200)
    srch.add_argument('--exact-queries', type=int, default=50)
    srch.add_argument('--text-queries', type=int, default=10)
    srch.add_argument('--nprobe', type=int, nargs='+',
                      default=[8, 32, 128])
    srch.add_argument('--train-per-list', type=int, default=39)
    srch.add_argument('--ef-search', type=int, nargs='+',
                      default=[64, 256])
    srch.add_argument('--hnsw-max', type=int, default=100_000,
                      help='largest size for HNSW (slow to build)')
    srch.add_argument('--data', choices=['uniform', 'clustered'],
                      default='uniform')
    srch.add_argument('--threads', type=int, default=1,
                      help='faiss OpenMP threads (default 1: best '
                      'single-query latency on a busy 2-core machine)')
    srch.add_argument('--fp16', action='store_true',
                      help='store the vectors of the exact and IVF indexes '
                      'in float16 (half the memory; 2 GB at 1M x 1024)')
    srch.add_argument('--no-text', action='store_true',
                      help='skip the text end-to-end latency (saves the '
                      'memory of the RN50 model)')
    srch.add_argument('--peers', action='store_true',
                      help='also HNSW of usearch and hnswlib')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    (bench_indexing if args.command == 'indexing' else bench_search)(args)


if __name__ == '__main__':
    main()
