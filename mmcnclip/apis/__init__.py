"""High-level inference APIs (embeddings, feature extraction and retrieval
search)."""
from .embedding import MultiModalEmbedding
from .retrieval import (RetrievalIndex, extract_features, image_to_text,
                        init_retrieval_model, text_to_image)

__all__ = [
    'MultiModalEmbedding', 'RetrievalIndex', 'extract_features', 'image_to_text',
    'init_retrieval_model', 'text_to_image'
]
