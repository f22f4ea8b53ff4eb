"""High-level inference APIs (feature extraction and retrieval search)."""
from .retrieval import (RetrievalIndex, extract_features, image_to_text,
                        init_retrieval_model, text_to_image)

__all__ = [
    'RetrievalIndex', 'extract_features', 'image_to_text',
    'init_retrieval_model', 'text_to_image'
]
