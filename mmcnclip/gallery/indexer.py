"""Incremental, resumable indexing of a photo folder.

A run scans the folder, syncs the database (new and changed files become
``pending``, deleted ones are dropped), encodes the pending files batch by
batch (one transaction each, so a killed run resumes where it stopped) and
then writes the faiss index next to the database.
"""
import os.path as osp
from typing import Optional

import numpy as np
from torch.utils.data import DataLoader

from mmcnclip.utils.progress import Progress
from .dataset import PhotoFiles, collate_photos
from .model import GalleryModel
from .scan import scan_folder
from .store import GalleryStore
from .vector_index import KINDS, VectorIndex


def vector_index_path(db_path: str) -> str:
    """The faiss file of a gallery database."""
    return f'{db_path}.faiss'


def open_gallery(db_path: str,
                 gallery_model: GalleryModel,
                 root: Optional[str] = None,
                 fp16: bool = False) -> GalleryStore:
    """Open (or, with ``root``, create) a database for this model.

    Args:
        db_path (str): The SQLite file.
        gallery_model (GalleryModel): The model; must be the one the
            database was built with.
        root (str, optional): The photo folder (indexing); must match the
            stored one.
        fp16 (bool): Store vectors in float16 (new databases only).

    Returns:
        GalleryStore: The store.

    Raises:
        ModelMismatchError: The database holds another model's vectors.
    """
    store = GalleryStore(db_path, readonly=root is None)
    identity = store.get_meta('identity')
    if identity is None:
        if root is None:
            raise ValueError(f'{db_path} has no index yet')
        store.set_meta(
            root=osp.abspath(root), vector_dtype='float16' if fp16 else
            'float32', identity=dict(gallery_model.identity,
                                     config=gallery_model.config,
                                     checkpoint=gallery_model.checkpoint))
        return store
    gallery_model.check_identity(identity, db_path)
    stored_root = store.get_meta('root')
    if root is not None and osp.abspath(root) != stored_root:
        raise ValueError(f'{db_path} indexes {stored_root}, not '
                         f'{osp.abspath(root)}; use one database per folder')
    return store


def encode_pending(store: GalleryStore,
                   gallery_model: GalleryModel,
                   batch_size: int = 32,
                   workers: int = 2,
                   progress: bool = True) -> int:
    """Encode every ``pending`` row, committing batch by batch.

    Returns:
        int: Number of rows processed.
    """
    rows = store.pending()
    if not rows:
        return 0
    dataset = PhotoFiles(store.get_meta('root'), rows, gallery_model.pipeline)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers,
                        collate_fn=collate_photos)
    bar = Progress(len(rows), 'images') if progress else None
    for batch in loader:
        vectors = None
        if batch['encoded']:
            vectors = gallery_model.encode_pixels(batch['pixels'])
            if store.get_meta('embed_dim') is None:
                store.set_meta(embed_dim=int(vectors.shape[1]))
        store.commit_batch(batch['encoded'], vectors, batch['failed'])
        if bar is not None:
            bar.update(len(batch['encoded']) + len(batch['failed']))
    if bar is not None:
        bar.close()
    return len(rows)


def build_vector_index(store: GalleryStore,
                       kind: Optional[str] = None,
                       save_to: Optional[str] = None) -> VectorIndex:
    """Build the faiss index from the stored vectors.

    Args:
        store (GalleryStore): The database.
        kind (str, optional): Index kind (see :data:`KINDS`); the stored
            one (default ``auto``) when None.
        save_to (str, optional): Write it there and record the database
            generation it reflects.

    Returns:
        VectorIndex: The index.
    """
    kind = kind or store.get_meta('index_kind', 'auto')
    generation = store.generation
    ids, vectors = store.vectors() if store.get_meta('embed_dim') else (
        np.zeros(0, np.int64), np.zeros((0, 0), np.float32))
    index = VectorIndex.build(ids, vectors, kind,
                              fp16=store.vector_dtype == np.float16,
                              dim=store.get_meta('embed_dim'))
    if save_to is not None:
        index.save(save_to)
        store.set_meta(index_kind=kind, faiss_generation=generation,
                       faiss_kind=index.kind)
    return index


def load_vector_index(store: GalleryStore, db_path: str) -> VectorIndex:
    """The saved faiss index, rebuilt in memory if it is missing or older
    than the database (e.g. after a killed run)."""
    path = vector_index_path(db_path)
    if osp.isfile(path) and store.get_meta(
            'faiss_generation') == store.generation:
        return VectorIndex.load(path, store.get_meta('faiss_kind'))
    return build_vector_index(store)


def index_folder(gallery_model: GalleryModel,
                 root: str,
                 db_path: str,
                 batch_size: int = 32,
                 workers: int = 2,
                 fp16: bool = False,
                 index_kind: str = 'auto',
                 progress: bool = True) -> dict:
    """Index (or update the index of) a photo folder.

    Args:
        gallery_model (GalleryModel): The model.
        root (str): The photo folder (recursive).
        db_path (str): The SQLite database (created if missing); the faiss
            index is written to ``DB.faiss``.
        batch_size (int): Images per batch and transaction. Defaults to 32.
        workers (int): DataLoader decoding processes. Defaults to 2.
        fp16 (bool): Store float16 vectors (new databases). Defaults to
            False.
        index_kind (str): One of :data:`KINDS`. Defaults to 'auto'.
        progress (bool): Progress bar on stderr. Defaults to True.

    Returns:
        dict: Counts ``added``, ``changed``, ``removed``, ``unchanged``,
        ``encoded``, ``indexed``, ``unreadable`` and the ``errors``
        ``[(path, message)]``, plus the faiss index ``kind``.
    """
    if index_kind not in KINDS:
        raise ValueError(f'index_kind must be one of {KINDS}')
    store = open_gallery(db_path, gallery_model, root, fp16)
    try:
        summary = store.sync(scan_folder(root))
        summary['encoded'] = encode_pending(store, gallery_model, batch_size,
                                            workers, progress)
        index = build_vector_index(store, index_kind,
                                   vector_index_path(db_path))
        counts = store.counts()
        summary.update(indexed=counts['ok'], unreadable=counts['error'],
                       errors=store.errors(), kind=index.kind)
    finally:
        store.close()
    return summary
