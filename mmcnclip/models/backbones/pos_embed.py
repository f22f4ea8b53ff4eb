"""Resizing of learned 2-D positional embeddings with leading extra tokens."""
import math

import torch
import torch.nn.functional as F


def resize_pos_embed(pos_embed: torch.Tensor,
                     new_grid: tuple,
                     num_extra_tokens: int = 1,
                     mode: str = 'bicubic') -> torch.Tensor:
    """Interpolate a (num_extra_tokens + H*W, C) embedding to a new grid.

    The old grid must be square. Interpolation follows the official Chinese
    CLIP (``align_corners=True``) so that a checkpoint resized here matches
    one resized by ``cn_clip``.

    Args:
        pos_embed (Tensor): Embedding of shape (N, C).
        new_grid (tuple[int, int]): Target (H, W).
        num_extra_tokens (int): Leading tokens (class token) kept as they
            are. Defaults to 1.
        mode (str): Interpolation mode. Defaults to ``'bicubic'``.

    Returns:
        Tensor: Embedding of shape (num_extra_tokens + H*W, C).
    """
    extra, grid = pos_embed[:num_extra_tokens], pos_embed[num_extra_tokens:]
    old = math.isqrt(grid.shape[0])
    if old * old != grid.shape[0]:
        raise ValueError(f'Cannot resize a positional embedding with '
                         f'{grid.shape[0]} grid tokens: not a square grid')
    if (old, old) == tuple(new_grid):
        return pos_embed
    grid = grid.reshape(1, old, old, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(
        grid.float(), size=tuple(new_grid), mode=mode,
        align_corners=True).to(pos_embed.dtype)
    grid = grid.permute(0, 2, 3, 1).reshape(-1, pos_embed.shape[-1])
    return torch.cat([extra, grid], dim=0)
