from .base import ImageTextRetrievalBase
from .jsonl import ImageTextJsonl
from .official import CNCLIPLmdbRetrieval, CNCLIPTsvRetrieval
from .records import BadRowError
from .transforms import PackImageText

__all__ = [
    'ImageTextRetrievalBase', 'ImageTextJsonl', 'CNCLIPLmdbRetrieval',
    'CNCLIPTsvRetrieval', 'BadRowError', 'PackImageText'
]
