"""Small helpers shared by the mmcnclip encoders."""


def resolve_arch(arch, zoo: dict) -> dict:
    """Look up an ``arch`` name in ``zoo`` or validate an arch dict."""
    if isinstance(arch, str):
        if arch.lower() not in zoo:
            raise ValueError(f'Unknown arch {arch!r}; choose one of '
                             f'{sorted(zoo)} or pass a dict')
        return dict(zoo[arch.lower()])
    missing = set(next(iter(zoo.values()))) - set(arch)
    if missing:
        raise ValueError(f'Custom arch misses keys {sorted(missing)}')
    return dict(arch)


def normalise_indices(indices, num: int) -> tuple:
    """Turn an int or sequence of possibly negative indices into a tuple."""
    if isinstance(indices, int):
        indices = [indices]
    out = []
    for i in indices:
        j = i + num if i < 0 else i
        if not 0 <= j < num:
            raise IndexError(f'out index {i} is out of range for {num} '
                             'layers/stages')
        out.append(j)
    return tuple(out)


def freeze(modules) -> None:
    """Put ``modules`` in eval mode and stop gradients to their weights."""
    for module in modules:
        module.eval()
        for param in module.parameters():
            param.requires_grad = False


class FreezesStages:
    """Mixin re-applying ``_freeze_stages`` after every ``train()`` call,
    so frozen parts (and their norm statistics) stay frozen."""

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        return self
