"""Inner-product search over the gallery vectors with faiss.

``exact`` is a flat (brute-force) index; ``ivf`` is an inverted-file index
(k-means cells, ``nprobe`` of them searched) and ``hnsw`` a graph index,
both approximate. ``auto`` is exact up to :data:`APPROX_THRESHOLD` vectors
and ``ivf`` above. Every index maps results back to the database row ids.
"""
import math
import os
from typing import Optional, Tuple

import numpy as np

KINDS = ('auto', 'exact', 'ivf', 'hnsw')
#: gallery size above which ``auto`` builds an approximate index
APPROX_THRESHOLD = 200_000


def _faiss():
    try:
        import faiss
    except ImportError as e:  # pragma: no cover - in requirements
        raise ImportError('The gallery needs faiss-cpu: pip install -r '
                          'requirements/cpu.txt') from e
    return faiss


def ivf_lists(n: int) -> int:
    """Number of IVF cells for ``n`` vectors (about sqrt(n): quick to train on few cores)."""
    return max(1, min(n // 39, int(math.sqrt(n))))


class VectorIndex:
    """A faiss index over normalised vectors keyed by int64 ids.

    Args:
        index: The faiss index (an ``IndexIDMap2`` or an IVF index with
            ids).
        kind (str): ``exact``, ``ivf`` or ``hnsw``.
    """

    def __init__(self, index, kind: str):
        self.index, self.kind = index, kind

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @classmethod
    def build(cls,
              ids: np.ndarray,
              vectors: np.ndarray,
              kind: str = 'auto',
              nprobe: int = 16,
              hnsw_m: int = 32,
              ef_search: int = 128,
              fp16: bool = False,
              dim: Optional[int] = None) -> 'VectorIndex':
        """Build an index of ``vectors`` (rows L2-normalised).

        Args:
            ids (np.ndarray): (N, ) int64 row ids.
            vectors (np.ndarray): (N, D) float32.
            kind (str): One of :data:`KINDS`. Defaults to 'auto'.
            nprobe (int): IVF cells searched. Defaults to 16.
            hnsw_m (int): HNSW graph degree. Defaults to 32.
            ef_search (int): HNSW search breadth. Defaults to 128.
            fp16 (bool): Store the exact index's vectors in float16.
                Defaults to False.
            dim (int, optional): Width for an empty index.

        Returns:
            VectorIndex: The index.
        """
        faiss = _faiss()
        if kind not in KINDS:
            raise ValueError(f'Index kind must be one of {KINDS}, got '
                             f'{kind!r}')
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        n, d = vectors.shape if vectors.size else (0, dim or 0)
        if kind == 'auto':
            kind = 'ivf' if n > APPROX_THRESHOLD else 'exact'
        if kind != 'exact' and n < 1000:
            kind = 'exact'  # too few vectors to train cells or a graph
        ip = faiss.METRIC_INNER_PRODUCT
        if kind == 'exact':
            base = faiss.IndexScalarQuantizer(
                d, faiss.ScalarQuantizer.QT_fp16, ip) if fp16 else \
                faiss.IndexFlatIP(d)
            index = faiss.IndexIDMap2(base)
        elif kind == 'ivf':
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, ivf_lists(n),
                                       ip)
            sample = vectors[np.random.default_rng(0).permutation(n)[:min(
                n, 64 * index.nlist)]]
            index.train(sample)
            index.nprobe = nprobe
        else:
            index = faiss.IndexIDMap2(faiss.IndexHNSWFlat(d, hnsw_m, ip))
            faiss.downcast_index(index.index).hnsw.efSearch = ef_search
        if n:
            index.add_with_ids(vectors, ids)
        return cls(index, kind)

    def search(self, queries: np.ndarray,
               k: int) -> Tuple[np.ndarray, np.ndarray]:
        """Top-``k`` inner products of each query.

        Args:
            queries (np.ndarray): (Q, D) or (D, ) float32, normalised.
            k (int): Results per query (capped at the index size).

        Returns:
            tuple[np.ndarray, np.ndarray]: Scores (Q, k') best first and
            the row ids (Q, k'), ``k' = min(k, size)``.
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries),
                                       dtype=np.float32)
        if queries.shape[1] != self.dim:
            raise ValueError(f'Queries must have width {self.dim}, got '
                             f'{queries.shape[1]}')
        k = min(int(k), self.size)
        if k < 1:
            return (np.zeros((len(queries), 0), np.float32),
                    np.zeros((len(queries), 0), np.int64))
        scores, ids = self.index.search(queries, k)
        return scores, ids

    def save(self, path: str) -> None:
        """Write atomically (temporary file, then rename)."""
        tmp = f'{path}.tmp{os.getpid()}'
        _faiss().write_index(self.index, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str, kind: str) -> 'VectorIndex':
        """Read an index written by :meth:`save`."""
        return cls(_faiss().read_index(path), kind)
