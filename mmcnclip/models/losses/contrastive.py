"""Symmetric InfoNCE (CLIP) loss with negatives gathered across ranks."""
import torch
import torch.distributed as dist
import torch.nn.functional as F
from mmengine.dist import get_dist_info
from torch import nn

from mmcnclip.registry import MODELS


class _GatherWithGrad(torch.autograd.Function):
    """All-gather whose backward sums every rank's gradient for the local
    slice (works on gloo, which lacks reduce-scatter)."""

    @staticmethod
    def forward(ctx, x):
        rank, world = get_dist_info()
        ctx.rank, ctx.size = rank, x.shape[0]
        out = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(out, x.contiguous())
        return torch.cat(out)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous()
        dist.all_reduce(grad)
        start = ctx.rank * ctx.size
        return grad[start:start + ctx.size]


def gather_features(x: torch.Tensor, with_grad: bool = True) -> torch.Tensor:
    """Concatenate ``x`` of every rank in rank order (equal batch sizes).

    Args:
        x (Tensor): Local features (B, D).
        with_grad (bool): Let gradients flow back to every rank's features
            (the official ``--gather-with-grad``); otherwise only the local
            slice keeps its gradient. Defaults to True.
    """
    rank, world = get_dist_info()
    if world == 1:
        return x
    sizes = [torch.zeros(1, dtype=torch.long, device=x.device)
             for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([x.shape[0]], device=x.device))
    if len({int(s) for s in sizes}) != 1:
        raise RuntimeError('Gathering features needs the same batch size on '
                           f'every rank, got {[int(s) for s in sizes]}; '
                           'use drop_last=True in the train dataloader')
    if with_grad:
        return _GatherWithGrad.apply(x)
    out = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(out, x.detach().contiguous())
    out[rank] = x
    return torch.cat(out)


@MODELS.register_module()
class CLIPContrastiveLoss(nn.Module):
    """Symmetric InfoNCE of Chinese CLIP (``cn_clip/training/train.py``).

    ``loss = (CE(s * I @ T^T, y) + CE(s * T @ I^T, y)) / 2`` with the
    matched pairs on the diagonal.

    Args:
        gather (bool): Use the features of all ranks as negatives (the
            official ``--aggregate``). Defaults to True.
        gather_with_grad (bool): Let gradients flow through the gathered
            features (the official ``--gather-with-grad``). Defaults to True.
        loss_weight (float): Defaults to 1.0.
    """

    def __init__(self,
                 gather: bool = True,
                 gather_with_grad: bool = True,
                 loss_weight: float = 1.0):
        super().__init__()
        self.gather = gather
        self.gather_with_grad = gather_with_grad
        self.loss_weight = loss_weight

    def forward(self, image_feats: torch.Tensor, text_feats: torch.Tensor,
                logit_scale: torch.Tensor) -> torch.Tensor:
        """Loss of normalised (B, D) features and the exponentiated scale."""
        if image_feats.shape != text_feats.shape:
            raise ValueError('Image and text features must pair up, got '
                             f'{tuple(image_feats.shape)} and '
                             f'{tuple(text_feats.shape)}')
        if self.gather:
            image_feats = gather_features(image_feats, self.gather_with_grad)
            text_feats = gather_features(text_feats, self.gather_with_grad)
        logits = logit_scale * image_feats @ text_feats.t()
        target = torch.arange(logits.shape[0], device=logits.device)
        loss = (F.cross_entropy(logits, target) +
                F.cross_entropy(logits.t(), target)) / 2
        return self.loss_weight * loss
