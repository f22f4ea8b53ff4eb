"""Safe reading of checkpoint files of every published format, and what
mmengine's local-file loader adds to it once mmcnclip is imported.

Weights are read with ``torch.load(weights_only=True)`` or safetensors, never
with full pickle. The only non-tensor globals allowed (process-wide, through
``torch.serialization.add_safe_globals`` at ``import mmcnclip``) are the ones
mmengine itself writes into training checkpoints (its ``HistoryBuffer`` and
the numpy arrays/scalars it logs), so that resume and test of our own
training runs work on torch >= 2.6.
"""
import os
import os.path as osp
import pickle

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
    try:  # mmengine's globals are allowed at import of mmcnclip
        return torch.load(path, map_location=map_location, weights_only=True,
                          mmap=kind == TORCH_ZIP)
    except pickle.UnpicklingError as err:
        raise _safety_error(path, err) from None
    except READ_ERRORS as err:
        raise corrupt_file_error(path, kind, err) from None


def _safety_error(path: str, err: Exception) -> CheckpointSafetyError:
    return CheckpointSafetyError(
        f'Refusing to load {path}: it contains Python objects that '
        'weights-only loading does not allow, and mmcnclip never falls '
        'back to full pickle (it can run arbitrary code). If you trust '
        'the file, re-save its tensors with torch.save(state_dict). '
        f'Details: {err}')


def allow_mmengine_checkpoint_globals() -> None:
    """Let every weights-only ``torch.load`` of this process (mmengine's own
    local loader included) read mmengine training checkpoints, through
    torch's public :func:`torch.serialization.add_safe_globals`."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())


def read_local_checkpoint(filename: str, map_location, read_file) -> dict:
    """What mmengine's local-file loader does with mmcnclip imported.

    Hugging Face folders and ``.safetensors`` files, which mmengine cannot
    read, go to :func:`load_checkpoint_file`; every other file goes to
    ``read_file`` (mmengine's own loader, weights-only on torch >= 2.6),
    whose refusal of an unsafe pickle is re-raised naming the file.

    Args:
        filename (str): Local path (``~`` expanded).
        map_location: Passed on.
        read_file (callable): mmengine's ``load_from_local``.

    Returns:
        dict: The checkpoint.
    """
    filename = osp.expanduser(filename)
    if osp.isdir(filename) or filename.endswith('.safetensors'):
        return load_checkpoint_file(filename, map_location)
    kind = check_checkpoint_file(filename) if osp.isfile(filename) else None
    try:
        return read_file(filename, map_location)
    except pickle.UnpicklingError as err:
        raise _safety_error(filename, err) from None
    except READ_ERRORS as err:
        if kind is None:
            raise
        raise corrupt_file_error(filename, kind, err) from None
