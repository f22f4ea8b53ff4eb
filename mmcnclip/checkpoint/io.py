"""Safe reading of checkpoint files of every published format.

Weights are read with ``torch.load(weights_only=True)`` or safetensors, never
with full pickle. The only non-tensor globals allowed are the ones mmengine
itself writes into training checkpoints (its ``HistoryBuffer`` and the numpy
arrays/scalars it logs), so that resume and test of our own training runs
work on torch >= 2.6.
"""
import contextlib
import os
import os.path as osp
import pickle
from typing import Optional

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

from .file_check import (READ_ERRORS, SAFETENSORS, TORCH_ZIP,
                         check_checkpoint_file, corrupt_file_error)

#: Weight files looked for, in order, inside a Hugging Face model folder.
HF_WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')


class CheckpointSafetyError(pickle.UnpicklingError):
    """A checkpoint holds Python objects that weights-only loading refuses."""


#: Statistics every mmengine ``HistoryBuffer`` pickles by reference.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_statistic(owner, name: str):
    """Stand-in for ``builtins.getattr`` while unpickling.

    Python pickles the statistic methods a ``HistoryBuffer`` keeps in its
    state as ``getattr(HistoryBuffer, 'min')``; this resolves exactly those
    and refuses every other attribute look-up.
    """
    allowed = set(HISTORY_BUFFER_STATISTICS) | set(
        HistoryBuffer._statistics_methods)
    if owner is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({owner!r}, {name!r}) is not a HistoryBuffer statistic')


def mmengine_checkpoint_globals() -> list:
    """The globals that mmengine training checkpoints contain.

    Besides tensors, mmengine saves its ``message_hub`` (``HistoryBuffer``
    objects holding numpy arrays, their statistic methods pickled through
    ``getattr``) and numpy scalars (loop state, logged values). numpy 1.x
    writes these under ``numpy.core``, numpy 2.x under ``numpy._core``;
    both names are accepted. Of the dtypes, only those of real-valued
    scalars (bool, integers, fp16/32/64) are allowed.

    Returns:
        list: Entries for :func:`torch.serialization.safe_globals`.
    """
    multiarray = np._core.multiarray if hasattr(np, '_core') \
        else np.core.multiarray
    numpy_functions = []
    for func in (multiarray._reconstruct, multiarray.scalar):
        numpy_functions += [
            (func, f'numpy.{core}.multiarray.{func.__name__}')
            for core in ('core', '_core')
        ]
    numeric = '?' + np.typecodes['AllInteger'] + 'efd'
    return [
        HistoryBuffer, np.ndarray, np.dtype,
        (_history_buffer_statistic, 'builtins.getattr'), *numpy_functions,
        *{type(np.dtype(t)) for t in numeric},
    ]


def resolve_weight_file(path: str) -> str:
    """Return the weight file for ``path`` (a file, or a Hugging Face model
    folder holding ``model.safetensors`` or ``pytorch_model.bin``)."""
    if osp.isdir(path):
        for name in HF_WEIGHT_FILES:
            if osp.isfile(osp.join(path, name)):
                return osp.join(path, name)
        raise FileNotFoundError(
            f'{path} is a folder without any of {HF_WEIGHT_FILES}; '
            f'found {sorted(os.listdir(path))[:10]}')
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint {path} does not exist')
    return path


def load_checkpoint_file(path: str, map_location='cpu') -> dict:
    """Read a checkpoint file or Hugging Face folder without running code.

    Args:
        path (str): ``.pt``/``.pth``/``.bin`` file, ``.safetensors`` file or
            a Hugging Face model folder.
        map_location: Passed to :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        dict: The checkpoint (a state dict, or a dict holding one).

    Raises:
        CheckpointSafetyError: The pickle references globals beyond tensors
            and mmengine's training metadata.
        CheckpointFileError: The file is empty, truncated, corrupt, not a
            checkpoint or in another format than its extension says.
    """
    path = resolve_weight_file(path)
    kind = check_checkpoint_file(path)
    if kind == SAFETENSORS:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        device = map_location if isinstance(map_location, str) else 'cpu'
        try:
            return load_file(path, device=device)
        except (SafetensorError, *READ_ERRORS) as err:
            raise corrupt_file_error(path, kind, err) from None
    try:
        with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
            return torch.load(
                path, map_location=map_location, weights_only=True,
                mmap=kind == TORCH_ZIP)
    except pickle.UnpicklingError as err:
        raise CheckpointSafetyError(
            f'Refusing to load {path}: it contains Python objects that '
            'weights-only loading does not allow, and mmcnclip never falls '
            'back to full pickle (it can run arbitrary code). If you trust '
            'the file, re-save its tensors with torch.save(state_dict). '
            f'Details: {err}') from None
    except READ_ERRORS as err:
        raise corrupt_file_error(path, kind, err) from None


def register_mmengine_loader():
    """Route mmengine's local-file checkpoint loading through
    :func:`load_checkpoint_file` (safe globals, safetensors, HF folders)."""
    from mmengine.runner import CheckpointLoader

    @CheckpointLoader.register_scheme(prefixes='', force=True)
    def load_from_local(filename, map_location):
        filename = osp.expanduser(filename)
        return load_checkpoint_file(filename, map_location)


# --------------------------------------------------------------------------
# Low-memory loading of pretrained weights.

_INIT_FUNCTIONS = ('uniform_', 'normal_', 'trunc_normal_', 'constant_',
                   'ones_', 'zeros_', 'eye_', 'dirac_', 'xavier_uniform_',
                   'xavier_normal_', 'kaiming_uniform_', 'kaiming_normal_',
                   'orthogonal_', 'sparse_')


@contextlib.contextmanager
def _skip_weight_init():
    """Make ``torch.nn.init`` functions no-ops while building a model, so
    that its (to be overwritten) weights are never written and their pages
    never become resident. Not thread-safe: it patches ``torch.nn.init``."""
    saved = {n: getattr(torch.nn.init, n) for n in _INIT_FUNCTIONS}
    try:
        for name in saved:
            setattr(torch.nn.init, name, lambda tensor, *a, **k: tensor)
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.nn.init, name, fn)


def _file_mappings(path: str) -> list:
    """``[(start, end)]`` address ranges where ``path`` is mapped into this
    process (Linux ``/proc/self/maps``); empty elsewhere."""
    real = osp.realpath(path)
    ranges = []
    try:
        with open('/proc/self/maps') as f:
            for line in f:
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and parts[5].strip() == real:
                    start, end = (int(x, 16) for x in parts[0].split('-'))
                    ranges.append((start, end))
    except OSError:
        return []
    return ranges


class _PageReleaser:
    """Drop the resident pages of file-mapped (``mmap=True``) checkpoint
    tensors once they were copied, so that reading a checkpoint does not
    add its size to the peak memory. Only touches pages inside private,
    read-only-used mappings of the checkpoint file itself; dropped pages
    would simply be re-read from the file if touched again."""

    def __init__(self, path: str):
        self.ranges = _file_mappings(path) if os.name == 'posix' else []
        self.page = os.sysconf('SC_PAGE_SIZE') if self.ranges else 0
        self.madvise = None
        if self.ranges:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                     ctypes.c_int]
            self.madvise = libc.madvise

    def release(self, tensor: torch.Tensor) -> None:
        if self.madvise is None or tensor.device.type != 'cpu':
            return
        storage = tensor.untyped_storage()
        start, end = storage.data_ptr(), storage.data_ptr() + storage.nbytes()
        start = -(-start // self.page) * self.page  # whole pages only
        end = end // self.page * self.page
        for lo, hi in self.ranges:
            a, b = max(start, lo), min(end, hi)
            if a < b:
                self.madvise(a, b - a, 4)  # MADV_DONTNEED


def load_pretrained(model, path: str, dtype: Optional[torch.dtype] = None):
    """Load a pretrained checkpoint of any layout with little extra memory.

    Given a config, the model is built without initialising its weights and
    every weight tensor is created once, directly in its final dtype, from
    the memory-mapped checkpoint, whose pages are released right after being
    copied: the peak memory stays close to the model's own size (about
    1.05x its fp32 bytes for ViT-H/14, against ~1.5-2x for build-then-load).
    Given a model instance, its parameters are replaced (``assign=True``)
    one by one; the peak is then up to the model plus the converted weights.

    Args:
        model (nn.Module | dict | Config): A model, or its config (built
            with ``mmcnclip.registry.MODELS``).
        path (str): Checkpoint file or Hugging Face folder (see
            :func:`load_checkpoint_file`).
        dtype (torch.dtype, optional): Floating dtype of the loaded weights;
            the model's parameter dtype when None. Defaults to None.

    Returns:
        nn.Module: The model with the checkpoint loaded (strictly: every
        missing or unexpected key raises
        :class:`~mmcnclip.checkpoint.CheckpointMismatchError`).
    """
    from .convert import convert_state_dict
    if not isinstance(model, torch.nn.Module):
        from mmcnclip.registry import MODELS
        with _skip_weight_init():
            model = MODELS.build(model)
    if dtype is None:
        dtype = next((p.dtype for p in model.parameters()
                      if p.is_floating_point()), torch.float32)
    ckpt = load_checkpoint_file(path)
    state = ckpt.get('state_dict', ckpt) \
        if isinstance(ckpt, dict) else ckpt
    releaser = _PageReleaser(resolve_weight_file(path))
    converted, _ = convert_state_dict(state)
    for key in list(converted):
        src = converted[key]
        out = torch.empty(src.shape, dtype=dtype if src.is_floating_point()
                          else src.dtype)
        out.copy_(src)
        converted[key] = out
        releaser.release(src)
        del src
    for tensor in state.values():  # sources of fused (concatenated) keys
        releaser.release(tensor)
    del ckpt, state
    model.load_state_dict(converted, strict=True, assign=True)
    return model
