"""High-level inference APIs: the classification inferencer, ModelScope-style
embeddings (:mod:`.embedding`) and image-text retrieval at scale.

Retrieval has one module per concern: :mod:`.model` (build a model, run it
for inference), :mod:`.features` (encode a gallery), :mod:`.index` (store
and search features), :mod:`.search` (text/image queries). Typical use::

    model = init_retrieval_model(cfg, 'clip_cn_vit-b-16.pt')
    index = extract_features(model, Runner.build_dataloader(
        cfg.test_dataloader), fp16=True)
    index.save('index.pt')
    index = RetrievalIndex.load('index.pt')
    text_to_image(model, index, ['一个红色的圆形'], k=5)
"""
from .embedding import MultiModalEmbedding
from .features import extract_features
from .image_classification import ImageClassificationInferencer
from .index import RetrievalIndex
from .model import init_retrieval_model
from .search import image_to_text, text_to_image

__all__ = [
    'ImageClassificationInferencer', 'MultiModalEmbedding', 'RetrievalIndex',
    'extract_features', 'image_to_text', 'init_retrieval_model',
    'text_to_image'
]
