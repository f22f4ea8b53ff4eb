"""High-level inference APIs (classification inferencer, embeddings,
feature extraction and retrieval search)."""
from .embedding import MultiModalEmbedding
from .image_classification import ImageClassificationInferencer
from .retrieval import (RetrievalIndex, extract_features, image_to_text,
                        init_retrieval_model, text_to_image)

__all__ = [
    'ImageClassificationInferencer', 'MultiModalEmbedding', 'RetrievalIndex',
    'extract_features', 'image_to_text', 'init_retrieval_model',
    'text_to_image'
]
