"""Memory-bounded top-k similarity search over large galleries."""
from typing import Tuple

import torch


def chunked_topk(queries: torch.Tensor,
                 gallery: torch.Tensor,
                 k: int,
                 query_chunk: int = 1024,
                 gallery_chunk: int = 65536) -> Tuple[torch.Tensor,
                                                      torch.Tensor]:
    """Top-``k`` inner-product matches of every query in ``gallery``.

    Only ``query_chunk x gallery_chunk`` scores exist at any time: the
    gallery is scanned in chunks and a running top-k is merged, so a 100k+
    gallery never needs a full ``N x M`` score matrix. Scores come from
    :func:`exact_scores`, so equal gallery rows (duplicate images or
    captions) score exactly alike, and equal scores rank in gallery order
    whatever the chunk sizes (:func:`stable_topk`), like the official
    evaluation.

    Args:
        queries (Tensor): Query features of shape (N, D).
        gallery (Tensor): Gallery features of shape (M, D).
        k (int): Number of matches; capped at M.
        query_chunk (int): Queries scored at once. Defaults to 1024.
        gallery_chunk (int): Gallery items scored at once. Defaults to
            65536.

    Returns:
        tuple[Tensor, Tensor]: Scores and gallery indices, both (N, k),
        best first.
    """
    if queries.dim() != 2 or gallery.dim() != 2 or \
            queries.shape[1] != gallery.shape[1]:
        raise ValueError('chunked_topk needs (N, D) queries and (M, D) '
                         f'gallery, got {tuple(queries.shape)} and '
                         f'{tuple(gallery.shape)}')
    if k < 1 or query_chunk < 1 or gallery_chunk < 1:
        raise ValueError('k, query_chunk and gallery_chunk must be >= 1')
    k = min(k, gallery.shape[0])
    all_scores, all_index = [], []
    for q in queries.split(query_chunk):
        best_s = q.new_full((q.shape[0], 0), float('-inf'))
        best_i = torch.zeros((q.shape[0], 0), dtype=torch.long)
        for start in range(0, gallery.shape[0], gallery_chunk):
            g = gallery[start:start + gallery_chunk]
            s, i = stable_topk(exact_scores(q, g), k)
            best_s, best_i = merge_topk(best_s, best_i, s, i + start, k)
        all_scores.append(best_s)
        all_index.append(best_i)
    return torch.cat(all_scores), torch.cat(all_index)


def exact_scores(queries: torch.Tensor, gallery: torch.Tensor,
                 block: int = 4096) -> torch.Tensor:
    """``queries @ gallery.T`` in float64, rounded to float32.

    A float32 product rounds each score differently depending on where its
    column falls in the matrix kernel, so two identical gallery rows can
    differ in the last bit and their order becomes arbitrary. Products of
    float32 values are exact in float64 and the float64 sums differ by far
    less than a float32 step, so identical rows get identical scores.
    Memory: one float64 copy of ``block`` gallery rows at a time.

    Args:
        queries (Tensor): (N, D).
        gallery (Tensor): (M, D).
        block (int): Gallery rows per float64 product. Defaults to 4096.

    Returns:
        Tensor: (N, M) float32 scores.
    """
    q = queries.double()
    return torch.cat([(q @ g.double().t()).float()
                      for g in gallery.split(block)], dim=1)


def stable_topk(scores: torch.Tensor,
                k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` of every row, equal scores in column order.

    ``torch.topk`` orders ties arbitrarily; the official evaluation
    (``cn_clip/eval/make_topk_predictions.py`` and ``_tr``) sorts with
    Python's stable ``sorted``, so of two gallery items with the same score
    (duplicate images, duplicate captions) the earlier one ranks first.
    Only the candidates that reach the k-th best score are sorted, so this
    costs one ``topk`` plus a sort of about ``k`` items per row.

    Args:
        scores (Tensor): Scores (N, M).
        k (int): Number of matches; capped at M.

    Returns:
        tuple[Tensor, Tensor]: Scores and column indices, both (N, k),
        best first.
    """
    k = min(k, scores.shape[1])
    if k == 0:
        return scores[:, :0], torch.zeros_like(scores[:, :0], dtype=torch.long)
    kth = scores.topk(k, dim=1).values[:, -1:]
    # every row's candidates: all columns scoring at least its k-th best
    width = int((scores >= kth).sum(dim=1).max())
    cols = scores.topk(width, dim=1).indices.sort(dim=1).values
    values = scores.gather(1, cols)
    order = values.argsort(dim=1, descending=True, stable=True)[:, :k]
    return values.gather(1, order), cols.gather(1, order)


def merge_topk(best_s: torch.Tensor, best_i: torch.Tensor,
               new_s: torch.Tensor, new_i: torch.Tensor,
               k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Merge a running top-k with the top-k of a later gallery chunk.

    Both inputs are ranked with ties in gallery order and every index of
    ``new_i`` is larger than those of ``best_i``, so a stable sort of the
    concatenation keeps ties in gallery order.

    Returns:
        tuple[Tensor, Tensor]: The best ``k`` scores and indices.
    """
    s = torch.cat([best_s, new_s], dim=1)
    i = torch.cat([best_i, new_i], dim=1)
    order = s.argsort(dim=1, descending=True, stable=True)[:, :k]
    return s.gather(1, order), i.gather(1, order)


def recall_at_k(topk_index: torch.Tensor, positives: list,
                ks=(1, 5, 10)) -> dict:
    """Fraction (in %) of queries with any positive among the first k.

    This is the official Chinese-CLIP definition (``cn_clip/eval/
    evaluation.py``): a query with several positives counts as a hit when
    at least one of them is retrieved.

    Args:
        topk_index (Tensor): Ranked gallery indices (N, K), K >= max(ks).
        positives (list[list[int]]): Gallery indices of each query's
            positives.
        ks (tuple[int]): Cut-offs. Defaults to (1, 5, 10).

    Returns:
        dict: ``{k: recall}``.
    """
    if len(positives) != topk_index.shape[0]:
        raise ValueError(f'{topk_index.shape[0]} ranked lists but '
                         f'{len(positives)} positive sets')
    if not positives:
        raise ValueError('recall_at_k needs at least one query')
    # rank of the best-ranked positive; inf when none is in the list
    first = []
    for row, pos in enumerate(positives):
        hit = torch.isin(topk_index[row], torch.as_tensor(pos))
        first.append(int(hit.nonzero()[0]) if hit.any() else float('inf'))
    # float64 in the official order of operations: hits / queries * 100
    return {k: sum(f < k for f in first) * 1.0 / len(first) * 100
            for k in ks}
