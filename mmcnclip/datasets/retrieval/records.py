"""Readers of the official Chinese-CLIP retrieval files, with row checks."""
import base64
import binascii
import io
import json
import pickle
from typing import Callable, Dict, List, Optional

from mmengine.logging import print_log
from PIL import Image

from ..transforms.loading import ImageDecodeError, open_image

from mmcnclip.text import normalize_text


class BadRowError(ValueError):
    """A row of a dataset file cannot be used; names the file and row."""


def norm_id(value):
    """Image/text ids as the official files use them: ints when numeric."""
    if isinstance(value, bool) or value is None:
        raise TypeError(f'invalid id {value!r}')
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text:
        raise ValueError('empty id')
    return int(text) if text.lstrip('-').isdigit() else text


def decode_base64_image(data, where: str) -> Image.Image:
    """Decode a (url-safe or standard) base64 image string to PIL.

    Args:
        data (str | bytes): base64 text.
        where (str): File and row for the error message.
    """
    try:
        raw = base64.urlsafe_b64decode(data)
    except (binascii.Error, ValueError) as err:
        raise BadRowError(f'{where}: undecodable image ({err})') from err
    try:
        return open_image(io.BytesIO(raw), name=where)
    except ImageDecodeError as err:
        raise BadRowError(str(err)) from err


class RowChecker:
    """Raise on a bad row, or count it when ``skip`` (logged by
    :meth:`report`)."""

    def __init__(self, skip: bool):
        self.skip = skip
        self.skipped: Dict[str, int] = {}

    def bad(self, path: str, message: str) -> None:
        if not self.skip:
            raise BadRowError(message)
        self.skipped[path] = self.skipped.get(path, 0) + 1

    def report(self) -> None:
        for path, count in self.skipped.items():
            print_log(f'Skipped {count} bad rows of {path}',
                      logger='current', level=30)


def read_texts_jsonl(path: str, checker: RowChecker,
                     has_image: Callable[[object], bool]) -> List[dict]:
    """Read ``{split}_texts.jsonl``: ``text_id``, ``text``, ``image_ids``.

    Args:
        path (str): The jsonl file.
        checker (RowChecker): Decides between raising and skipping.
        has_image (callable): Whether an image id exists in the image table.

    Returns:
        list[dict]: ``dict(text_id, text, image_ids)`` per valid line.
    """
    texts, seen = [], set()
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f'{path}, line {lineno}'
            try:
                obj = json.loads(line)
                text_id = norm_id(obj['text_id'])
                text = obj['text']
                image_ids = [norm_id(i) for i in obj['image_ids']]
            except (ValueError, KeyError, TypeError) as err:
                checker.bad(path, f'{where}: bad text record ({err!r}); '
                            'need text_id, text and image_ids')
                continue
            if not isinstance(text, str) or not image_ids:
                checker.bad(path, f'{where}: text must be a string and '
                            'image_ids a non-empty list')
                continue
            unknown = [i for i in image_ids if not has_image(i)]
            if unknown:
                checker.bad(path, f'{where}: text {text_id!r} refers to '
                            f'unknown image ids {unknown}')
                continue
            if text_id in seen:
                checker.bad(path, f'{where}: duplicate text_id {text_id!r}')
                continue
            seen.add(text_id)
            texts.append(dict(text_id=text_id, text=normalize_text(text),
                              image_ids=image_ids))
    return texts


def index_tsv(path: str, checker: RowChecker,
              verify: bool = True) -> Dict[object, tuple]:
    """Map image id -> ``(byte offset, row)`` of ``{split}_imgs.tsv``.

    Args:
        path (str): ``image_id<TAB>base64`` lines.
        checker (RowChecker): Decides between raising and skipping.
        verify (bool): Decode every image now (undecodable ones become bad
            rows); otherwise they fail when read. Defaults to True.
    """
    index = {}
    with open(path, 'rb') as f:
        row, offset = 0, 0
        for line in f:
            row += 1
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            where = f'{path}, row {row}'
            parts = line.rstrip(b'\r\n').split(b'\t')
            try:
                if len(parts) != 2 or not parts[1]:
                    raise ValueError('need "image_id<TAB>base64"')
                image_id = norm_id(parts[0].decode('utf-8'))
            except (ValueError, TypeError, UnicodeDecodeError) as err:
                checker.bad(path, f'{where}: bad image row ({err})')
                continue
            if image_id in index:
                checker.bad(path, f'{where}: duplicate image id {image_id!r}')
                continue
            if verify:
                try:
                    decode_base64_image(parts[1], where)
                except BadRowError as err:
                    checker.bad(path, str(err))
                    continue
            index[image_id] = (start, row)
    return index


def read_tsv_image(path: str, offset: int, row: int) -> Image.Image:
    """Decode the image of the tsv row starting at ``offset``."""
    with open(path, 'rb') as f:
        f.seek(offset)
        parts = f.readline().rstrip(b'\r\n').split(b'\t')
    if len(parts) != 2:
        raise BadRowError(f'{path}, row {row}: bad image row')
    return decode_base64_image(parts[1], f'{path}, row {row}')


class _NoGlobals(pickle.Unpickler):
    """Unpickles plain data only (the LMDB pairs are tuples of str/int)."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(
            f'refusing to load {module}.{name} from an LMDB pair')


def safe_unpickle(data: bytes):
    """``pickle.loads`` without any class or function lookups."""
    return _NoGlobals(io.BytesIO(data)).load()


def import_lmdb():
    """The optional ``lmdb`` module, with an actionable error."""
    try:
        import lmdb
    except ImportError as err:
        raise ImportError('Reading the Chinese-CLIP LMDB layout needs the '
                          '"lmdb" package: pip install lmdb') from err
    return lmdb


def open_lmdb(path: str):
    """Open an LMDB directory read-only, naming it when that fails."""
    lmdb = import_lmdb()
    try:
        return lmdb.open(path, readonly=True, create=False, lock=False,
                         readahead=False, meminit=False)
    except lmdb.Error as err:
        raise FileNotFoundError(f'Cannot open LMDB {path}: {err}') from err


def lmdb_get(env, key) -> Optional[bytes]:
    """Value of ``str(key)`` in an LMDB environment (None when absent)."""
    with env.begin() as txn:
        return txn.get(str(key).encode('utf-8'))
