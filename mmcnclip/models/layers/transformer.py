"""Transformer building blocks shared by the CLIP ViT and the Chinese BERT.

Both towers use the same layer with fused QKV projection and
:func:`torch.nn.functional.scaled_dot_product_attention`; the ViT runs it
pre-norm with QuickGELU (OpenAI CLIP), the BERT runs it post-norm with the
exact (erf) GELU.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

#: The constant of QuickGELU ``x * sigmoid(1.702 * x)`` (OpenAI CLIP).
QUICK_GELU_ALPHA = 1.702


class QuickGELU(nn.Module):
    """The sigmoid approximation of GELU used by OpenAI CLIP.

    When no gradient is needed it reuses one buffer instead of allocating
    three full-size temporaries (same values).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return x * torch.sigmoid(QUICK_GELU_ALPHA * x)
        return x.mul(QUICK_GELU_ALPHA).sigmoid_().mul_(x)


ACTIVATIONS = {'quick_gelu': QuickGELU, 'gelu': nn.GELU}


class LayerNorm(nn.LayerNorm):
    """LayerNorm that always normalises in fp32 and returns the input dtype.

    Keeps half/bfloat16 inference numerically safe; a no-op cast in fp32.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:
            return super().forward(x)
        return F.layer_norm(x.float(), self.normalized_shape,
                            self.weight.float(), self.bias.float(),
                            self.eps).to(x.dtype)


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused QKV projection.

    Args:
        embed_dims (int): Model width.
        num_heads (int): Number of attention heads.
        attn_drop (float): Dropout on attention weights. Defaults to 0.
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0.):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(embed_dims, embed_dims * 3)
        self.proj = nn.Linear(embed_dims, embed_dims)
        #: CPU kernel route of :func:`attention` (a ``Route`` named
        #: 'matmul' or 'sdpa'), set by :func:`set_attention_routes_`
        self.route = None

    @property
    def family(self) -> str:
        """The attention family, e.g. ``'attention bfloat16 12x64'``."""
        return (f'attention {str(self.proj.weight.dtype)[6:]} '
                f'{self.num_heads}x{self.head_dims}')

    def forward(self,
                x: torch.Tensor,
                key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Attend over ``x`` of shape (B, L, C).

        ``key_mask`` is a boolean (B, L) tensor, True where a key may be
        attended to (i.e. not padding).
        """
        B, L, C = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.num_heads,
                                   C // self.num_heads).permute(2, 0, 3, 1,
                                                                4).unbind(0)
        mask = None if key_mask is None else key_mask[:, None, None, :]
        if self.training and self.attn_drop:
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                               dropout_p=self.attn_drop)
        else:
            x = attention(q, k, v, mask, matmul=self.route is not None
                          and self.route.name == 'matmul')
        return self.proj(x.transpose(1, 2).reshape(B, L, C))


def attention(q: torch.Tensor,
              k: torch.Tensor,
              v: torch.Tensor,
              mask: Optional[torch.Tensor] = None,
              matmul: bool = False) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d)) v`` (no dropout), the softmax
    accumulated in fp32.

    ``F.scaled_dot_product_attention``, or with ``matmul`` (CPU, no
    gradients) two batched matrix products around the softmax: in bf16 on
    the CPU PyTorch's flash kernel can be no faster than in fp32, while the
    bf16 products take half its time (ViT-B/16 shapes on the AMD CPU of
    docs/performance.md); :func:`set_attention_routes_` measures which.

    Args:
        q, k, v (Tensor): (B, heads, L, head_dims).
        mask (Tensor, optional): Boolean, broadcastable to (B, heads, L,
            L), True where attending is allowed.
        matmul (bool): Use the two products where allowed. Defaults to
            False.
    """
    if not (matmul and q.device.type == 'cpu'
            and not (torch.is_grad_enabled() and q.requires_grad)
            and not torch.compiler.is_compiling()):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    scores = torch.matmul(q, k.transpose(-1, -2)).mul_(q.shape[-1]**-0.5)
    if mask is not None:
        scores.masked_fill_(~mask, float('-inf'))
    # PyTorch's CPU softmax accumulates bf16/fp16 in fp32 (same values as
    # an fp32 softmax rounded to q's dtype, without the fp32 copy)
    return torch.matmul(torch.softmax(scores, dim=-1), v)


class MLP(nn.Module):
    """Two-layer feed-forward network ``fc2(act(fc1(x)))``."""

    def __init__(self, embed_dims: int, hidden_dims: int, act: str):
        super().__init__()
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.act = ACTIVATIONS[act]()
        self.fc2 = nn.Linear(hidden_dims, embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TransformerLayer(nn.Module):
    """One transformer layer, pre-norm (CLIP ViT) or post-norm (BERT).

    Args:
        embed_dims (int): Model width.
        num_heads (int): Number of attention heads.
        feedforward_channels (int): Hidden width of the MLP.
        act (str): ``'quick_gelu'`` or ``'gelu'``. Defaults to
            ``'quick_gelu'``.
        pre_norm (bool): Normalise before (True) or after (False) each
            residual branch. Defaults to True.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-5.
        drop_rate (float): Dropout on each residual branch. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 feedforward_channels: int,
                 act: str = 'quick_gelu',
                 pre_norm: bool = True,
                 norm_eps: float = 1e-5,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.):
        super().__init__()
        self.pre_norm = pre_norm
        self.ln1 = LayerNorm(embed_dims, eps=norm_eps)
        self.attn = SelfAttention(embed_dims, num_heads, attn_drop_rate)
        self.ln2 = LayerNorm(embed_dims, eps=norm_eps)
        self.mlp = MLP(embed_dims, feedforward_channels, act)
        self.drop = nn.Dropout(drop_rate)

    def forward(self,
                x: torch.Tensor,
                key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.drop(self.attn(self.ln1(x), key_mask))
            return x + self.drop(self.mlp(self.ln2(x)))
        x = self.ln1(x + self.drop(self.attn(x, key_mask)))
        return self.ln2(x + self.drop(self.mlp(x)))


def run_layers(layers: nn.ModuleList,
               x: torch.Tensor,
               key_mask: Optional[torch.Tensor] = None,
               with_cp: bool = False,
               out_indices=()):
    """Run ``layers`` in sequence, optionally with gradient checkpointing.

    Returns:
        tuple: The final hidden states and a dict ``{index: hidden}`` of the
        outputs of the layers listed in ``out_indices``.
    """
    outs = {}
    for i, layer in enumerate(layers):
        if with_cp and x.requires_grad:
            x = checkpoint(layer, x, key_mask, use_reentrant=False)
        else:
            x = layer(x, key_mask)
        if i in out_indices:
            outs[i] = x
    return x, outs


def set_attention_routes_(model: nn.Module) -> dict:
    """Give every :class:`SelfAttention` of a bf16 CPU model the faster of
    SDPA and the matmul route (:func:`attention`), measured once per family
    and machine (:func:`~.kernel_routes.choose_attention_route`); other
    dtypes and devices keep SDPA.

    Returns:
        dict: ``{family: Route}``.
    """
    from .kernel_routes import choose_attention_route
    routes = {}
    for module in model.modules():
        if not isinstance(module, SelfAttention):
            continue
        weight = module.proj.weight
        if weight.dtype != torch.bfloat16 or weight.device.type != 'cpu':
            continue
        if module.family not in routes:
            routes[module.family] = choose_attention_route(
                weight.dtype, module.num_heads, module.head_dims)
        module.route = routes[module.family]
    return routes
