"""Searching a gallery by Chinese text, by example image, or both."""
import io
import os
import threading
from typing import List, Optional, Union

import numpy as np
from mmengine.dataset import Compose
from PIL import Image

from mmcnclip.registry import TRANSFORMS
from .indexer import load_vector_index
from .model import GalleryModel
from .scan import resolve_inside
from .store import GalleryStore

ImageQuery = Union[str, os.PathLike, bytes, Image.Image]


class GallerySearch:
    """Search an indexed photo folder.

    Args:
        db_path (str): The database written by :func:`index_folder`.
        config (str, optional): Model config; the one recorded at indexing
            time when None.
        checkpoint (str, optional): Checkpoint; the recorded one when None.
        device (str): Defaults to 'cpu'.

    Raises:
        ModelMismatchError: ``config``/``checkpoint`` are not the model the
            database was built with.
    """

    def __init__(self,
                 db_path: str,
                 config: Optional[str] = None,
                 checkpoint: Optional[str] = None,
                 device: str = 'cpu'):
        self.store = GalleryStore(db_path, readonly=True)
        identity = self.store.get_meta('identity')
        if identity is None:
            raise ValueError(f'{db_path} has no index yet; run '
                             'tools/gallery.py index first')
        self.model = GalleryModel(config or identity['config'], checkpoint
                                  or identity['checkpoint'], device)
        self.model.check_identity(identity, db_path)
        self.root = self.store.get_meta('root')
        self.index = load_vector_index(self.store, db_path)
        self._pipeline = Compose(
            [TRANSFORMS.build(t) for t in self.model.pipeline])
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.index.size

    def text_vector(self, text: str) -> np.ndarray:
        """Normalised feature of a text query."""
        if not text.strip():
            raise ValueError('Empty text query')
        with self._lock:
            return self.model.encode_texts([text])[0]

    def image_vector(self, image: ImageQuery) -> np.ndarray:
        """Normalised feature of an image file, its bytes or a PIL image."""
        if isinstance(image, bytes):
            try:
                image = Image.open(io.BytesIO(image))
                image.load()
            except Exception as e:
                raise ValueError(f'Cannot decode the uploaded image: {e}') \
                    from e
        results = dict(img=image) if isinstance(image, Image.Image) else \
            dict(img_path=os.fspath(image))
        with self._lock:
            packed = self._pipeline(results)
            return self.model.encode_pixels(packed['inputs'][None])[0]

    def stored_vector(self, image_id: int) -> np.ndarray:
        """The indexed vector of a gallery image."""
        with self._lock:
            return self.store.vector_of(image_id)

    def query_vector(self,
                     text: Optional[str] = None,
                     image: Optional[ImageQuery] = None,
                     image_id: Optional[int] = None,
                     text_weight: float = 0.5) -> np.ndarray:
        """The normalised query: text, image (file/bytes/PIL or a gallery
        id) or ``text_weight * text + (1 - text_weight) * image``."""
        if image is not None and image_id is not None:
            raise ValueError('Give image or image_id, not both')
        vectors = []
        if text:
            vectors.append((text_weight, self.text_vector(text)))
        if image is not None:
            vectors.append((1 - text_weight, self.image_vector(image)))
        elif image_id is not None:
            vectors.append((1 - text_weight, self.stored_vector(image_id)))
        if not vectors:
            raise ValueError('Give a text or an image query')
        if len(vectors) == 1:
            return vectors[0][1]
        query = sum(w * v for w, v in vectors)
        return query / max(float(np.linalg.norm(query)), 1e-12)

    def search_vector(self, query: np.ndarray, k: int = 10,
                      offset: int = 0) -> List[dict]:
        """Ranks ``offset`` to ``offset + k`` of a query vector.

        Returns:
            list[dict]: ``rank``, ``id``, ``path`` (relative to the
            folder), ``score``, ``width``, ``height``, best first.
        """
        if k < 1 or offset < 0:
            raise ValueError('need k >= 1 and offset >= 0')
        with self._lock:
            scores, ids = self.index.search(query, offset + k)
            scores, ids = scores[0][offset:], ids[0][offset:]
            rows = self.store.rows(ids[ids >= 0])
        return [dict(rows[int(i)], rank=offset + r + 1, score=float(s))
                for r, (s, i) in enumerate(zip(scores, ids)) if i >= 0]

    def search(self,
               text: Optional[str] = None,
               image: Optional[ImageQuery] = None,
               image_id: Optional[int] = None,
               k: int = 10,
               offset: int = 0,
               text_weight: float = 0.5) -> List[dict]:
        """Search by text, image or both (see :meth:`query_vector`)."""
        query = self.query_vector(text, image, image_id, text_weight)
        return self.search_vector(query, k, offset)

    def file_of(self, rel_path: str) -> str:
        """The absolute path of an indexed file.

        Raises:
            PermissionError: The path leaves the photo folder.
            FileNotFoundError: The path is not an indexed image.
        """
        path = resolve_inside(self.root, rel_path)
        with self._lock:
            image_id = self.store.id_of(rel_path)
        if image_id is None or not os.path.isfile(path):
            raise FileNotFoundError(f'Not an indexed image: {rel_path!r}')
        return path
