from .retrieval import ImageTextRecall
from .search import (chunked_topk, exact_scores, merge_topk, recall_at_k,
                     stable_topk)

__all__ = [
    'ImageTextRecall', 'chunked_topk', 'exact_scores', 'merge_topk',
    'recall_at_k', 'stable_topk'
]
