"""High-level inference APIs (classification inferencer, feature
extraction and retrieval search)."""
from .image_classification import ImageClassificationInferencer
from .retrieval import (RetrievalIndex, extract_features, image_to_text,
                        init_retrieval_model, text_to_image)

__all__ = [
    'ImageClassificationInferencer', 'RetrievalIndex', 'extract_features', 'image_to_text',
    'init_retrieval_model', 'text_to_image'
]
