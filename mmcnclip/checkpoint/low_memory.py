"""Low-memory loading of pretrained weights: build without initialising,
read memory-mapped, convert, assign, and release the file's pages."""
import os
import os.path as osp
from typing import Optional

import torch

from mmcnclip.compat import skip_weight_init
from .convert import convert_state_dict, unwrap_checkpoint
from .io import load_checkpoint_file, resolve_weight_file

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
    if not isinstance(model, torch.nn.Module):
        from mmcnclip.registry import MODELS
        with skip_weight_init():
            model = MODELS.build(model)
    if dtype is None:
        dtype = next((p.dtype for p in model.parameters()
                      if p.is_floating_point()), torch.float32)
    state = unwrap_checkpoint(load_checkpoint_file(path))
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
    del state
    model.load_state_dict(converted, strict=True, assign=True)
    return model
