"""A linear layer (with an optional activation) run by oneDNN on the CPU.

PyTorch sends fp32 ``F.linear`` on the CPU to the BLAS it was built with
(MKL for the official wheels). oneDNN's own GEMM is at least as fast and on
some CPUs much faster (measured: 2x on an AVX-512 AMD EPYC, where MKL takes
a slower code path), and it can apply the bias and the activation inside
the same primitive instead of in extra passes over the output.
:class:`FusedLinear` uses it where it can and plain PyTorch everywhere else,
so a model holding it still runs on GPUs, under autograd and in exporters.
Which of oneDNN and PyTorch's BLAS is faster depends on the CPU:
:func:`set_linear_routes_` measures it per layer family (see
:mod:`.kernel_routes`).
"""
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .kernel_routes import Route, choose_linear_route
from .onednn_dtypes import onednn_computes
from .transformer import MLP

#: activation name -> (oneDNN post-op, its algorithm, PyTorch fallback)
ACTIVATIONS = {
    None: ('none', '', None),
    'silu': ('swish', '', lambda x: F.silu(x, inplace=True)),
    'gelu': ('gelu', 'none', F.gelu),  # exact (erf) GELU
}


def check_activation(act: Optional[str]) -> Optional[str]:
    """``act`` if it names one of :data:`ACTIVATIONS`, else ValueError."""
    if act not in ACTIVATIONS:
        raise ValueError(f'act must be one of {list(ACTIVATIONS)}, '
                         f'got {act!r}')
    return act


def onednn_linear_available() -> bool:
    """Whether this PyTorch build has oneDNN's fused linear operator."""
    return (torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, '_linear_pointwise'))


class FusedLinear(nn.Module):
    """``act(x @ weight.T + bias)``, one oneDNN primitive on the CPU.

    It adopts the parameters of an existing :class:`torch.nn.Linear` (same
    ``weight``/``bias`` names, so state dicts are unchanged). oneDNN runs
    for CPU fp32/bf16 inputs when no gradient is needed and no compiler or
    tracer is capturing the graph and its :attr:`route` is ``'onednn'``;
    otherwise the layer computes ``act(F.linear(x, weight, bias))`` with
    PyTorch ops (``'blas'``).

    Args:
        linear (nn.Linear): The layer whose parameters are adopted.
        act (str, optional): ``None``, ``'silu'`` or ``'gelu'`` (exact).
            Defaults to None.
    """

    def __init__(self, linear: nn.Linear, act: Optional[str] = None):
        super().__init__()
        self.act = check_activation(act)
        self.weight = linear.weight
        self.bias = linear.bias
        self.route = Route('onednn' if onednn_linear_available() else
                           'blas', 'default')

    def extra_repr(self) -> str:
        out_features, in_features = self.weight.shape
        return (f'in_features={in_features}, out_features={out_features}, '
                f'bias={self.bias is not None}, act={self.act}, '
                f'route={self.route.name}')

    def _runs_onednn(self, x: torch.Tensor) -> bool:
        return (self.route.name == 'onednn' and x.device.type == 'cpu'
                and onednn_computes(x.dtype) and x.dtype == self.weight.dtype
                and not (torch.is_grad_enabled() and
                         (x.requires_grad or self.weight.requires_grad))
                and not torch.jit.is_tracing()
                and not torch.compiler.is_compiling())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        post_op, algorithm, fallback = ACTIVATIONS[self.act]
        if self._runs_onednn(x):
            return torch.ops.mkldnn._linear_pointwise(
                x, self.weight, self.bias, post_op, [], algorithm)
        x = F.linear(x, self.weight, self.bias)
        return x if fallback is None else fallback(x)


def fuse_linear_layers_(model: nn.Module,
                        layer_type: Callable = None) -> int:
    """Replace every ``nn.Linear`` of ``model`` by a :class:`FusedLinear`
    (or ``layer_type``), merging the activation of mmcnclip ``MLP`` layers
    (SiLU after :func:`~mmcnclip.models.inference.fold_quick_gelu_`, exact
    GELU in the BERT) into their first linear layer.

    Args:
        model (nn.Module): The model, changed in place.
        layer_type (Callable, optional): Builds the new layer from an
            ``nn.Linear`` and an activation name, like :class:`FusedLinear`
            (e.g. :class:`~.int8_linear.Int8Linear`). Defaults to
            :class:`FusedLinear`.

    Returns:
        int: The number of linear layers replaced.
    """
    layer_type = layer_type or FusedLinear
    count = 0
    for module in list(model.modules()):
        if isinstance(module, MLP) and isinstance(module.fc1, nn.Linear):
            act = _activation_name(module.act)
            if act is not None:
                module.fc1 = layer_type(module.fc1, act)
                module.act = nn.Identity()
                count += 1
        for name, child in list(module.named_children()):
            if type(child) is nn.Linear:
                setattr(module, name, layer_type(child))
                count += 1
    return count


def _activation_name(act: nn.Module) -> Optional[str]:
    """'silu'/'gelu' for the activations oneDNN can fuse, else None."""
    if isinstance(act, nn.SiLU):
        return 'silu'
    if isinstance(act, nn.GELU) and act.approximate == 'none':
        return 'gelu'
    return None


def layer_family(layer: FusedLinear) -> str:
    """A layer's family name, e.g. ``'float32 3072x768 silu'``."""
    out_features, in_features = layer.weight.shape
    return (f'{str(layer.weight.dtype)[6:]} {out_features}x{in_features} '
            f'{layer.act or "-"}')


def set_linear_routes_(model: nn.Module, route: str = 'auto') -> dict:
    """Choose the route of every :class:`FusedLinear` of ``model``, once per
    layer family (weight shape, dtype, activation): measured and cached
    with ``'auto'`` (see :func:`~.kernel_routes.choose_linear_route`),
    forced with ``'onednn'``/``'blas'``.

    Args:
        model (nn.Module): A model holding :class:`FusedLinear` layers, in
            its final dtype and device.
        route (str): ``'auto'``, ``'onednn'`` or ``'blas'``. Defaults to
            'auto'.

    Returns:
        dict: ``{family: Route}`` with families named like
        ``'float32 3072x768 silu'``.
    """
    routes = {}
    for module in model.modules():
        if not isinstance(module, FusedLinear):
            continue
        family = layer_family(module)
        if family not in routes:
            routes[family] = choose_linear_route(module.weight, module.bias,
                                                 module.act, route)
        module.route = routes[family]
    return routes


def linear_routes(model: nn.Module) -> dict:
    """``{family: (route, reason, number of layers)}`` of the
    :class:`FusedLinear`, int8 and routed attention layers of a prepared
    model."""
    out = {}
    for module in model.modules():
        if isinstance(getattr(module, 'route', None), Route):
            family = getattr(module, 'family', None) or layer_family(module)
            count = out.get(family, (None, None, 0))[2]
            out[family] = (module.route.name, module.route.reason, count + 1)
    return out


def describe_linear_routes(model: nn.Module) -> str:
    """One line per linear layer family: the kernel route and why."""
    return '\n'.join(f'  {family} x{count}: {route} ({reason})'
                      for family, (route, reason, count) in
                      linear_routes(model).items())
