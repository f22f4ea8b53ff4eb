"""The gallery database: one SQLite file, the source of truth.

One row per image (path relative to the photo folder, size, mtime, width,
height, status, error, normalised feature vector) and a ``meta`` table with
the photo folder, the model identity and the vector format. Every indexing
batch is one transaction (WAL journal), so a killed run leaves a consistent
database: rows are ``pending`` until their vector is committed.
"""
import json
import os.path as osp
import sqlite3
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .scan import FileStat

PENDING, OK, ERROR = 'pending', 'ok', 'error'
VECTOR_DTYPES = {'float32': np.float32, 'float16': np.float16}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    width INTEGER,
    height INTEGER,
    status TEXT NOT NULL,
    error TEXT,
    vector BLOB);
CREATE INDEX IF NOT EXISTS images_status ON images(status);
"""


class GalleryStore:
    """Read and write the gallery database.

    Args:
        path (str): The SQLite file (created when missing unless
            ``readonly``).
        readonly (bool): Open without write access. Defaults to False.
    """

    def __init__(self, path: str, readonly: bool = False):
        if readonly and not osp.isfile(path):
            raise FileNotFoundError(f'Gallery database not found: {path} '
                                    '(create it with tools/gallery.py index)')
        self.path = path
        uri = f'file:{osp.abspath(path)}' + ('?mode=ro' if readonly else '')
        self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        if not readonly:
            self.conn.execute('PRAGMA journal_mode=WAL')
            self.conn.executescript(_SCHEMA)
        elif not self._has_table('images'):
            raise ValueError(f'{path} is not a gallery database')

    def _has_table(self, name: str) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
            (name, )).fetchone() is not None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    # -- meta ---------------------------------------------------------------
    def get_meta(self, key: str, default=None):
        """A JSON value of the ``meta`` table."""
        row = self.conn.execute('SELECT value FROM meta WHERE key=?',
                                (key, )).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, **values) -> None:
        """Write JSON values into the ``meta`` table (one transaction)."""
        with self.conn:
            self.conn.executemany(
                'INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)',
                [(k, json.dumps(v, ensure_ascii=False))
                 for k, v in values.items()])

    @property
    def generation(self) -> int:
        """Counter bumped by every change of the stored vectors."""
        return self.get_meta('generation', 0)

    @property
    def vector_dtype(self) -> np.dtype:
        return np.dtype(VECTOR_DTYPES[self.get_meta('vector_dtype',
                                                    'float32')])

    # -- syncing with the folder -------------------------------------------
    def files(self) -> Dict[str, FileStat]:
        """Stored path -> size and mtime of every row."""
        return {p: FileStat(s, m) for p, s, m in self.conn.execute(
            'SELECT path, size, mtime_ns FROM images')}

    def sync(self, found: Dict[str, FileStat]) -> Dict[str, int]:
        """Make the rows match a folder scan in one transaction.

        Deleted files lose their row; new files get a ``pending`` row;
        files whose size or mtime changed become ``pending`` again (their
        old vector is dropped). Unchanged files keep their row.

        Args:
            found (dict[str, FileStat]): :func:`scan_folder`'s result.

        Returns:
            dict[str, int]: Counts of ``added``, ``changed``, ``removed``
            and ``unchanged`` files.
        """
        stored = self.files()
        removed = [p for p in stored if p not in found]
        added = [p for p in found if p not in stored]
        changed = [p for p in found if p in stored and stored[p] != found[p]]
        with self.conn:
            self.conn.executemany('DELETE FROM images WHERE path=?',
                                  [(p, ) for p in removed])
            self.conn.executemany(
                'INSERT INTO images(path, size, mtime_ns, status) '
                'VALUES (?, ?, ?, ?)',
                [(p, *found[p], PENDING) for p in added])
            self.conn.executemany(
                'UPDATE images SET size=?, mtime_ns=?, status=?, error=NULL, '
                'vector=NULL, width=NULL, height=NULL WHERE path=?',
                [(*found[p], PENDING, p) for p in changed])
            if removed or changed:
                self._bump()
        return dict(added=len(added), changed=len(changed),
                    removed=len(removed),
                    unchanged=len(found) - len(added) - len(changed))

    def _bump(self) -> None:
        self.conn.execute(
            'INSERT OR REPLACE INTO meta(key, value) VALUES '
            "('generation', COALESCE((SELECT value FROM meta "
            "WHERE key='generation'), 0) + 1)")

    # -- indexing -----------------------------------------------------------
    def pending(self) -> List[Tuple[int, str]]:
        """``(id, path)`` of the rows still to encode, in id order."""
        return self.conn.execute(
            'SELECT id, path FROM images WHERE status=? ORDER BY id',
            (PENDING, )).fetchall()

    def commit_batch(self, encoded: Sequence[Tuple[int, int, int]],
                     vectors: Optional[np.ndarray],
                     failed: Iterable[Tuple[int, str]] = ()) -> None:
        """Store one batch in one transaction.

        Args:
            encoded (Sequence[tuple]): ``(id, width, height)`` per vector.
            vectors (np.ndarray, optional): (len(encoded), D) normalised
                features, stored in :attr:`vector_dtype`.
            failed (Iterable[tuple]): ``(id, error message)`` of files
                that could not be read.
        """
        rows = []
        if encoded:
            vectors = np.ascontiguousarray(vectors, dtype=self.vector_dtype)
            rows = [(w, h, OK, v.tobytes(), i)
                    for (i, w, h), v in zip(encoded, vectors)]
        with self.conn:
            self.conn.executemany(
                'UPDATE images SET width=?, height=?, status=?, error=NULL, '
                'vector=? WHERE id=?', rows)
            self.conn.executemany(
                'UPDATE images SET status=?, error=? WHERE id=?',
                [(ERROR, msg, i) for i, msg in failed])
            self._bump()

    # -- reading ------------------------------------------------------------
    def vectors(self) -> Tuple[np.ndarray, np.ndarray]:
        """Ids (N, ) int64 and vectors (N, D) float32 of the encoded rows."""
        rows = self.conn.execute(
            'SELECT id, vector FROM images WHERE status=? ORDER BY id',
            (OK, )).fetchall()
        dim = self.get_meta('embed_dim')
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vecs = np.frombuffer(b''.join(r[1] for r in rows),
                             dtype=self.vector_dtype).reshape(len(rows), dim)
        return ids, vecs.astype(np.float32)

    def vector_of(self, image_id: int) -> np.ndarray:
        """The stored vector of one encoded image (float32)."""
        row = self.conn.execute(
            'SELECT vector FROM images WHERE id=? AND status=?',
            (int(image_id), OK)).fetchone()
        if row is None:
            raise KeyError(f'No encoded image with id {image_id}')
        return np.frombuffer(row[0], dtype=self.vector_dtype).astype(
            np.float32)

    def rows(self, ids: Sequence[int]) -> Dict[int, dict]:
        """Metadata (path, size, width, height) of the given ids."""
        ids = [int(i) for i in ids]
        out = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ','.join('?' * len(chunk))
            for i, path, size, w, h in self.conn.execute(
                    f'SELECT id, path, size, width, height FROM images '
                    f'WHERE id IN ({marks})', chunk):
                out[i] = dict(id=i, path=path, size=size, width=w, height=h)
        return out

    def id_of(self, path: str) -> Optional[int]:
        """The row id of an indexed path (None when not indexed)."""
        row = self.conn.execute('SELECT id FROM images WHERE path=?',
                                (path, )).fetchone()
        return None if row is None else row[0]

    def errors(self) -> List[Tuple[str, str]]:
        """``(path, message)`` of the files that could not be read."""
        return self.conn.execute(
            'SELECT path, error FROM images WHERE status=? ORDER BY path',
            (ERROR, )).fetchall()

    def counts(self) -> Dict[str, int]:
        """Rows per status."""
        out = {PENDING: 0, OK: 0, ERROR: 0}
        out.update(self.conn.execute(
            'SELECT status, COUNT(*) FROM images GROUP BY status'))
        return out
