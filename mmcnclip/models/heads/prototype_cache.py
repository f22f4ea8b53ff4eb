"""Caching of zero-shot text prototypes, in memory and on disk.

Two fingerprints of the text tower are used:

* :func:`weights_fingerprint` is cheap (no full pass over the weights) and
  is checked on every forward. It combines, for every parameter and buffer
  of the whole text tower, its storage address, dtype, device, shape and
  autograd version counter (bumped by every in-place update:
  ``load_state_dict``, optimizer steps, EMA updates, ``copy_`` under
  ``no_grad``), plus a few strided samples of its values, which catch
  writes through ``.data`` (EMA swaps use ``p.data.copy_``) that bypass the
  version counter.
* :func:`~mmcnclip.models.fingerprint.weights_digest` hashes the bytes of
  every tensor. It identifies weights across processes and keys the
  optional cache file.

A cache file entry stores the whole request it answers (weights digest,
class names, templates, tokenizer vocabulary and context length, text
normalisation, dtype) and a checksum of its prototypes; an entry is only
used when all of them match and its prototypes have the expected shape and
unit norm. A cache file that cannot be read or written never fails the
run: :func:`cached_prototypes` logs one warning naming the file and the
reason and computes the prototypes instead.
"""
import hashlib
import itertools
import json
import logging
import os.path as osp
import pickle
from collections import OrderedDict
from typing import Callable, Sequence

import torch
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from torch import nn

from mmcnclip.checkpoint.file_check import READ_ERRORS, sniff_format
from mmcnclip.utils.atomic_save import atomic_torch_save
from ..fingerprint import named_tensors, sampled_values

#: Format tag written into cache files (older tags are replaced).
CACHE_FORMAT = 'mmcnclip-text-prototypes-v2'
#: At most this many (weights, classes, templates) entries per cache file.
MAX_FILE_ENTRIES = 8
#: Values sampled per tensor by :func:`weights_fingerprint`.
FINGERPRINT_SAMPLES = 16


class CacheFileProblem(Exception):
    """A prototype cache file or entry cannot be used; says why."""


def weights_fingerprint(modules: Sequence[nn.Module]) -> tuple:
    """A cheap identity of the current weights of ``modules``.

    Args:
        modules (Sequence[nn.Module]): The text tower modules.

    Returns:
        tuple: Equal for two calls exactly when no weight was replaced or
        updated in place in between (up to writes through ``.data`` that
        leave every sampled value unchanged).
    """
    tensors = named_tensors(modules)
    # The state dicts of int8 layers hold new tensors at every call (their
    # packed weights, scale, zero point): only their values can count.
    owned = {id(t) for m in modules
             for t in itertools.chain(m.parameters(), m.buffers())}
    state = tuple((name, *((t.data_ptr(), t._version) if id(t) in owned
                           else (None, None)),
                   t.dtype, str(t.device), tuple(t.shape))
                  for name, t in tensors)
    values = sampled_values([t for _, t in tensors], FINGERPRINT_SAMPLES)
    return state + (hashlib.sha1(values.numpy().tobytes()).hexdigest(), )


def tokenizer_fingerprint(tokenizer) -> str:
    """SHA-1 of a tokenizer's vocabulary (content, not path) and context
    length: what decides the token ids of a prompt."""
    sha = hashlib.sha1(f'{type(tokenizer).__name__}|'
                       f'{tokenizer.context_length}|'.encode())
    for token, index in sorted(tokenizer.vocab.items(), key=lambda x: x[1]):
        sha.update(f'{index}\t{token}\n'.encode('utf-8'))
    return sha.hexdigest()


#: Text on which :func:`normalisation_fingerprint` observes a normaliser.
_NORMALISATION_PROBE = 'AbC “引号” ＡＢ\u00e9\u0301 ẞ İ'


def normalisation_fingerprint(normalise: Callable[[str], str]) -> str:
    """What a text normaliser does to a probe string (upper case, curly
    quotes, full-width and combining characters)."""
    return normalise(_NORMALISATION_PROBE)


def make_request(digest: str, classnames: Sequence[str],
                 templates: Sequence[str], tokenizer: str, normalisation: str,
                 dtype: torch.dtype) -> dict:
    """Everything that decides a set of prototypes.

    Args:
        digest (str): :func:`~mmcnclip.models.fingerprint.weights_digest`
            of the text tower.
        classnames (Sequence[str]): Class names.
        templates (Sequence[str]): Templates.
        tokenizer (str): :func:`tokenizer_fingerprint`.
        normalisation (str): :func:`normalisation_fingerprint`.
        dtype (torch.dtype): Dtype of the text tower.

    Returns:
        dict: Plain data, stored with the entry and compared on use.
    """
    return dict(weights=digest, classnames=list(classnames),
                templates=list(templates), tokenizer=tokenizer,
                normalisation=normalisation, dtype=str(dtype))


def entry_key(request: dict) -> str:
    """Cache-file key of a request (unambiguous: a JSON encoding)."""
    text = json.dumps(request, ensure_ascii=False, sort_keys=True)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()


def _prototypes_sha1(prototypes: torch.Tensor) -> str:
    data = prototypes.detach().cpu().contiguous().reshape(-1)
    return hashlib.sha1(data.view(torch.uint8).numpy().tobytes()).hexdigest()


def read_cache_file(path: str) -> dict:
    """Read the entries of a prototype cache file.

    Args:
        path (str): The file; a missing file gives no entries, and so does
            a cache file of an older format (it is replaced when written).

    Returns:
        dict: ``{key: {'request', 'prototypes', 'sha1'}}``.

    Raises:
        CacheFileProblem: The file cannot be read or is not a prototype
            cache file (it must then not be overwritten).
    """
    if not osp.exists(path):
        return OrderedDict()
    try:
        kind = sniff_format(path)
        if kind == 'empty':
            raise CacheFileProblem('it is empty (0 bytes)')
        if kind not in ('torch-zip', 'torch-pickle'):
            raise CacheFileProblem('it is not a prototype cache file (not '
                                   'written by torch.save)')
        data = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError:
        raise CacheFileProblem('it is not a prototype cache file (it holds '
                               'Python objects a cache never contains)')
    except PermissionError as err:
        raise CacheFileProblem(f'it cannot be read ({err.strerror})')
    except READ_ERRORS as err:
        raise CacheFileProblem(f'it is truncated or corrupt '
                               f'({type(err).__name__})')
    tag = data.get('format') if isinstance(data, dict) else None
    if not (isinstance(tag, str)
            and tag.startswith('mmcnclip-text-prototypes-')):
        raise CacheFileProblem('it is not a prototype cache file (no '
                               f'{CACHE_FORMAT!r} format tag)')
    if tag != CACHE_FORMAT:
        return OrderedDict()
    if not isinstance(data.get('entries'), dict):
        raise CacheFileProblem('it is corrupt: its entries are not a '
                               'mapping')
    return OrderedDict(data['entries'])


def checked_prototypes(entry, request: dict) -> torch.Tensor:
    """The prototypes of a cache entry, after checking it answers
    ``request``.

    Args:
        entry: The stored entry.
        request (dict): From :func:`make_request`.

    Returns:
        Tensor: (num_classes, embed_dim) fp32 prototypes.

    Raises:
        CacheFileProblem: The entry is for another request, or its
            prototypes are not a (num_classes, D) tensor of unit rows that
            matches its checksum.
    """
    if not isinstance(entry, dict) or entry.get('request') != request:
        raise CacheFileProblem('its entry for these prototypes was written '
                               'for another request (class names, '
                               'templates, tokenizer or weights)')
    protos = entry.get('prototypes')
    num_classes = len(request['classnames'])
    if not isinstance(protos, torch.Tensor) or protos.dim() != 2 or \
            protos.shape[0] != num_classes or protos.dtype != torch.float32:
        shape = tuple(protos.shape) if isinstance(protos, torch.Tensor) \
            else type(protos).__name__
        raise CacheFileProblem(f'its entry holds prototypes of shape {shape}'
                               f', expected ({num_classes}, D) float32')
    if entry.get('sha1') != _prototypes_sha1(protos):
        raise CacheFileProblem('its entry does not match its checksum')
    norms = protos.norm(dim=-1)
    if not torch.allclose(norms, torch.ones_like(norms), atol=1e-3):
        raise CacheFileProblem('its entry holds prototypes that are not '
                               'unit vectors')
    return protos


def write_cache_entry(path: str, entries: dict, key: str, request: dict,
                      prototypes: torch.Tensor) -> None:
    """Add (or refresh) one entry of a cache file, atomically.

    The oldest entries are dropped beyond :data:`MAX_FILE_ENTRIES`.

    Args:
        path (str): The cache file.
        entries (dict): Its current entries (:func:`read_cache_file`).
        key (str): The entry key from :func:`entry_key`.
        request (dict): From :func:`make_request`.
        prototypes (Tensor): Prototypes of shape (num_classes, embed_dim).

    Raises:
        OSError: The file cannot be written (it is then unchanged).
    """
    entries = OrderedDict(entries)
    entries.pop(key, None)
    protos = prototypes.detach().float().cpu().clone()
    entries[key] = dict(request=request, prototypes=protos,
                        sha1=_prototypes_sha1(protos))
    while len(entries) > MAX_FILE_ENTRIES:
        entries.pop(next(iter(entries)))
    atomic_torch_save(dict(format=CACHE_FORMAT, entries=dict(entries)), path)


def cached_prototypes(path: str, request: dict,
                      compute: Callable[[], torch.Tensor],
                      device) -> torch.Tensor:
    """Prototypes from the cache file ``path``, computed (and stored) on a
    miss.

    No cache problem fails the caller: an unreadable file, a foreign file,
    a mismatching entry or a failed write is logged once as a WARNING
    naming the file and the reason, and the prototypes are computed. A file
    that is not a readable prototype cache is never overwritten.

    Args:
        path (str): The cache file.
        request (dict): From :func:`make_request`.
        compute (callable): Returns the prototypes.
        device: Where the returned prototypes live.

    Returns:
        Tensor: The prototypes.
    """
    key = entry_key(request)
    try:
        entries, writable = read_cache_file(path), True
    except CacheFileProblem as problem:
        _warn(f'Text prototype cache {path} is not used: {problem}. The '
              'prototypes are computed and not cached; the file is left as '
              'it is (delete it or choose another cache_file)')
        entries, writable = {}, False
    entry = entries.get(key)
    if entry is not None:
        try:
            protos = checked_prototypes(entry, request)
            print_log(f'Loaded text prototypes from {path}',
                      logger='current')
            return protos.to(device)
        except CacheFileProblem as problem:
            _warn(f'Text prototype cache {path}: {problem}; the prototypes '
                  'are computed again and the entry replaced')
    protos = compute()
    if writable and is_main_process():
        try:
            write_cache_entry(path, entries, key, request, protos)
        except OSError as err:
            _warn(f'Text prototypes are not cached: {err.strerror or err}')
    return protos


def _warn(message: str) -> None:
    print_log(message, logger='current', level=logging.WARNING)
