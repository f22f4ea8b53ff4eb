"""Safe reading of checkpoint files of every published format.

Weights are read with ``torch.load(weights_only=True)`` or safetensors, never
with full pickle. The only non-tensor globals allowed are the ones mmengine
itself writes into training checkpoints (its ``HistoryBuffer`` and the numpy
arrays/scalars it logs), so that resume and test of our own training runs
work on torch >= 2.6.
"""
import os
import os.path as osp
import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

#: Weight files looked for, in order, inside a Hugging Face model folder.
HF_WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')


class CheckpointSafetyError(pickle.UnpicklingError):
    """A checkpoint holds Python objects that weights-only loading refuses."""


def mmengine_checkpoint_globals() -> list:
    """The globals that mmengine training checkpoints contain."""
    multiarray = np._core.multiarray
    return [
        HistoryBuffer, np.ndarray, np.dtype, multiarray._reconstruct,
        multiarray.scalar, *{type(np.dtype(t)) for t in np.typecodes['All']
                              if t not in 'OV'},
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
    """
    path = resolve_weight_file(path)
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        device = map_location if isinstance(map_location, str) else 'cpu'
        return load_file(path, device=device)
    try:
        with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
            return torch.load(
                path, map_location=map_location, weights_only=True,
                mmap=_is_zip(path))
    except pickle.UnpicklingError as err:
        raise CheckpointSafetyError(
            f'Refusing to load {path}: it contains Python objects that '
            'weights-only loading does not allow, and mmcnclip never falls '
            'back to full pickle (it can run arbitrary code). If you trust '
            'the file, re-save its tensors with torch.save(state_dict). '
            f'Details: {err}') from None


def _is_zip(path: str) -> bool:
    """Whether ``path`` uses torch's zip format (which supports mmap)."""
    with open(path, 'rb') as f:
        return f.read(4) == b'PK\x03\x04'


def register_mmengine_loader():
    """Route mmengine's local-file checkpoint loading through
    :func:`load_checkpoint_file` (safe globals, safetensors, HF folders)."""
    from mmengine.runner import CheckpointLoader

    @CheckpointLoader.register_scheme(prefixes='', force=True)
    def load_from_local(filename, map_location):
        filename = osp.expanduser(filename)
        return load_checkpoint_file(filename, map_location)
