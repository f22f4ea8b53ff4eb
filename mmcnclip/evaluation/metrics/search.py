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
    gallery never needs a full ``N x M`` score matrix.

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
            s, i = (q @ g.t()).topk(min(k, g.shape[0]), dim=1)
            s = torch.cat([best_s, s], dim=1)
            i = torch.cat([best_i, i + start], dim=1)
            best_s, order = s.topk(min(k, s.shape[1]), dim=1)
            best_i = i.gather(1, order)
        all_scores.append(best_s)
        all_index.append(best_i)
    return torch.cat(all_scores), torch.cat(all_index)


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
    first = torch.full((len(positives), ), float('inf'))
    for row, pos in enumerate(positives):
        hit = torch.isin(topk_index[row], torch.as_tensor(pos))
        if hit.any():
            first[row] = int(hit.nonzero()[0])
    return {k: 100.0 * float((first < k).float().mean()) for k in ks}
