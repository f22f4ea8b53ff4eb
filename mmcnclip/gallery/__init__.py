"""Chinese text -> image search over a photo folder: an incremental SQLite
+ faiss index and a local web app (``tools/gallery.py``)."""
from .indexer import index_folder, load_vector_index, open_gallery
from .model import GalleryModel, ModelMismatchError
from .scan import IMAGE_EXTENSIONS, resolve_inside, scan_folder
from .search import GallerySearch
from .store import GalleryStore
from .thumbnails import ThumbnailCache
from .vector_index import VectorIndex

__all__ = [
    'GalleryModel', 'GallerySearch', 'GalleryStore', 'IMAGE_EXTENSIONS',
    'ModelMismatchError', 'ThumbnailCache', 'VectorIndex', 'index_folder',
    'load_vector_index', 'open_gallery', 'resolve_inside', 'scan_folder'
]
