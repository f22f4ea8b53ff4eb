"""Caching of zero-shot text prototypes, in memory and on disk.

Two fingerprints of the text tower are used:

* :func:`weights_fingerprint` is cheap (no pass over the weights) and is
  checked on every forward. It combines, for every parameter and buffer,
  its storage address, dtype, device and autograd version counter (bumped by
  every in-place update: ``load_state_dict``, optimizer steps, EMA updates,
  ``copy_`` under ``no_grad``), plus the sum of the text projection, which
  also catches writes through ``.data`` that bypass the version counter.
* :func:`weights_digest` hashes the bytes of every tensor. It identifies
  weights across processes and keys the optional cache file.
"""
import hashlib
import os
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Iterable, List, Optional, Sequence, Tuple

import torch
from torch import nn

#: Format tag written into cache files.
CACHE_FORMAT = 'mmcnclip-text-prototypes-v1'
#: At most this many (weights, classes, templates) entries per cache file.
MAX_FILE_ENTRIES = 8


def _tensors(modules: Iterable[nn.Module]) -> List[Tuple[str, torch.Tensor]]:
    """``(name, tensor)`` of the modules' state, also inside the tuples of
    packed (int8 quantised) parameters; non-tensor entries are skipped."""
    out = []
    for index, module in enumerate(modules):
        for name, value in module.state_dict(keep_vars=True).items():
            if isinstance(value, (tuple, list)):
                out.extend((f'{index}.{name}.{i}', t)
                           for i, t in enumerate(value) if torch.is_tensor(t))
            elif torch.is_tensor(value):
                out.append((f'{index}.{name}', value))
    return out


def weights_fingerprint(modules: Sequence[nn.Module],
                        checksum: Optional[torch.Tensor] = None) -> tuple:
    """A cheap identity of the current weights of ``modules``.

    Args:
        modules (Sequence[nn.Module]): The text tower modules.
        checksum (Tensor, optional): A small tensor whose sum is added to the
            fingerprint (the text projection). Defaults to None.

    Returns:
        tuple: Equal for two calls exactly when no weight was replaced or
        updated in place in between (up to writes through ``.data`` that
        leave ``checksum`` unchanged).
    """
    state = tuple((name, t.data_ptr(), t._version, t.dtype, str(t.device),
                   tuple(t.shape)) for name, t in _tensors(modules))
    if checksum is not None:
        with torch.no_grad():
            state += (float(checksum.detach().double().sum()), )
    return state


def weights_digest(modules: Sequence[nn.Module]) -> str:
    """SHA-1 of the names, dtypes, shapes and bytes of all tensors.

    Args:
        modules (Sequence[nn.Module]): The text tower modules.

    Returns:
        str: Hex digest.
    """
    sha = hashlib.sha1()
    for name, tensor in _tensors(modules):
        t = tensor.detach().cpu()
        t = (t.dequantize() if t.is_quantized else t).contiguous()
        sha.update(f'{name}|{t.dtype}|{tuple(t.shape)}|'.encode())
        sha.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return sha.hexdigest()


def entry_key(digest: str, classnames: Sequence[str],
              templates: Sequence[str]) -> str:
    """Cache-file key of one (weights, class names, templates) entry."""
    sha = hashlib.sha1(digest.encode())
    for group in (classnames, templates):
        sha.update(b'\x00' + '\x1f'.join(group).encode('utf-8'))
    return sha.hexdigest()


def read_cache_file(path: str) -> dict:
    """Read the entries of a prototype cache file.

    Args:
        path (str): The file; a missing file gives no entries.

    Returns:
        dict: ``{key: {'classnames', 'templates', 'prototypes'}}``.

    Raises:
        ValueError: If the file exists but is not a prototype cache file.
    """
    if not osp.isfile(path):
        return {}
    data = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(data, dict) or data.get('format') != CACHE_FORMAT:
        raise ValueError(f'{path} is not a text prototype cache file '
                         f'(expected format {CACHE_FORMAT!r}); delete it or '
                         'choose another cache_file')
    return OrderedDict(data['entries'])


def write_cache_entry(path: str, key: str, classnames: Sequence[str],
                      templates: Sequence[str],
                      prototypes: torch.Tensor) -> None:
    """Add (or refresh) one entry of a cache file, atomically.

    The oldest entries are dropped beyond :data:`MAX_FILE_ENTRIES`.

    Args:
        path (str): The cache file.
        key (str): The entry key from :func:`entry_key`.
        classnames (Sequence[str]): Class names of the prototypes.
        templates (Sequence[str]): Templates of the prototypes.
        prototypes (Tensor): Prototypes of shape (num_classes, embed_dim).
    """
    entries = read_cache_file(path)
    entries.pop(key, None)
    entries[key] = dict(
        classnames=list(classnames),
        templates=list(templates),
        prototypes=prototypes.detach().cpu().clone())
    while len(entries) > MAX_FILE_ENTRIES:
        entries.pop(next(iter(entries)))
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.tmp')
    os.close(fd)
    try:
        torch.save(dict(format=CACHE_FORMAT, entries=dict(entries)), tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
