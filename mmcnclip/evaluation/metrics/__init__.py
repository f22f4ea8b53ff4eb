from .retrieval import ImageTextRecall
from .search import chunked_topk, recall_at_k

__all__ = ['ImageTextRecall', 'chunked_topk', 'recall_at_k']
