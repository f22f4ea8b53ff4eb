"""Pure functions that turn any published Chinese CLIP state dict (or whole
checkpoint) into the mmcnclip layout and check it against a model, loudly."""
import math
import re
from typing import Dict, Mapping, Optional, Tuple

import torch

from ..version import __version__
from .formats import FORMATS, IGNORED_KEYS, OPTIONAL_KEYS, RESIZABLE_KEYS


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model it is loaded into."""


class TowerNotFoundError(CheckpointMismatchError):
    """A checkpoint holds no weights of the requested tower."""


def strip_module_prefix(state_dict: Mapping) -> dict:
    """Drop the ``module.`` prefix DataParallel/DDP training adds."""
    return {k[7:] if k.startswith('module.') else k: v
            for k, v in state_dict.items()}


def detect_format(state_dict: Mapping) -> str:
    """Name the layout of ``state_dict`` from its keys.

    The layouts of :data:`~mmcnclip.checkpoint.formats.FORMATS` are tried in
    their declared order; the first whose marker prefixes start a key wins.

    Returns:
        str: A key of :data:`~mmcnclip.checkpoint.formats.FORMATS`.
    """
    keys = list(strip_module_prefix(dict.fromkeys(state_dict)))
    for name, spec in FORMATS.items():
        if any(k.startswith(spec.markers) for k in keys):
            return name
    raise CheckpointMismatchError(
        'Not a Chinese CLIP checkpoint: none of its keys look like one of the '
        f'supported layouts ({", ".join(FORMATS)}). First keys: {keys[:8]}')


def _format(fmt: str):
    if fmt not in FORMATS:
        raise CheckpointMismatchError(
            f'Unknown checkpoint layout {fmt!r}; choose one of '
            f'{list(FORMATS)}')
    return FORMATS[fmt]


def _tables_for(fmt: str, keys) -> list:
    spec = _format(fmt)
    if spec.vit is None:  # one table for every key (hf_bert, mmcnclip)
        return spec.text
    vit_marker = ('class_embedding', 'cls_token')
    is_vit = any(k.endswith(vit_marker) for k in keys)
    vision = spec.vit if is_vit else spec.resnet
    if is_vit and spec.vit_bare is not None and not any(
            k.startswith(spec.image_prefixes) for k in keys):
        # An image tower saved on its own (open_clip ``model.visual``).
        vision = spec.vit_bare
    if vision is None:
        raise CheckpointMismatchError(
            f'The {fmt} layout has no ResNet variant, but no class token '
            'was found in the checkpoint')
    return vision + spec.text


def _apply_op(op, tensor: torch.Tensor) -> torch.Tensor:
    if op == 'T':
        return tensor.t()
    if op == 'flatten':
        while tensor.dim() > 1 and tensor.shape[0] == 1:
            tensor = tensor[0]
    return tensor


def convert_state_dict(state_dict: Mapping,
                       fmt: Optional[str] = None) -> Tuple[dict, str]:
    """Map a state dict of any supported layout onto the mmcnclip layout.

    A pure function: the input is not modified. Keys that no rule of the
    detected layout knows are an error, never silently dropped.

    Args:
        state_dict (Mapping): Source weights (``module.`` prefixes allowed).
        fmt (str, optional): Source layout; detected when None.

    Returns:
        tuple[dict, str]: The converted state dict and the source layout.
    """
    state_dict = strip_module_prefix(state_dict)
    fmt = fmt or detect_format(state_dict)
    rules = [(re.compile(r[0]), r[1], r[2] if len(r) > 2 else None)
             for r in _tables_for(fmt, state_dict)]
    out, fused, unknown = {}, {}, []
    for key, tensor in state_dict.items():
        for pattern, target, op in rules:
            match = pattern.fullmatch(key)
            if match is None:
                continue
            if op == 'skip':  # known, but not part of any mmcnclip tower
                break
            new_key = match.expand(target)
            if isinstance(op, tuple):
                parts = fused.setdefault(new_key, [None] * len(op[1]))
                parts[op[1].index(match.group('part'))] = tensor
            else:
                out[new_key] = _apply_op(op, tensor)
            break
        else:
            if not re.fullmatch(IGNORED_KEYS, key):
                unknown.append(key)
    if unknown and len(unknown) == len(state_dict):
        raise CheckpointMismatchError(
            f'Not a Chinese CLIP checkpoint: its keys look like the {fmt} '
            f'layout, but none of them is one: {_preview(unknown)}')
    if unknown:
        raise CheckpointMismatchError(
            f'{len(unknown)} keys of this {fmt}-layout checkpoint are not '
            f'part of a Chinese CLIP model: {_preview(unknown)}')
    for key, parts in fused.items():
        if any(p is None for p in parts):
            raise CheckpointMismatchError(
                f'Incomplete attention weights for {key}: q/k/v are not '
                'all present (truncated checkpoint?)')
        out[key] = torch.cat(parts, dim=0)
    return out, fmt


def convert_checkpoint(checkpoint: Mapping,
                       source: str,
                       fmt: Optional[str] = None,
                       half: bool = False) -> dict:
    """Turn a loaded checkpoint of any supported layout into a slim mmcnclip
    checkpoint (no optimizer state), ready for :func:`torch.save`.

    A pure function: the input is not modified, and the output tensors are
    compact copies (no memory-mapped or shared storage of the input).

    Args:
        checkpoint (Mapping): A loaded checkpoint file: a state dict, or one
            inside ``state_dict``/``model``/``module``
            (:func:`unwrap_checkpoint`); ``module.`` prefixes allowed.
        source (str): What it was read from, recorded in the meta.
        fmt (str, optional): Source layout, a key of
            :data:`~mmcnclip.checkpoint.formats.FORMATS`; detected from the
            keys when None. Defaults to None.
        half (bool): Store floating-point weights as fp16; otherwise their
            dtype is kept. Defaults to False.

    Returns:
        dict: ``{'state_dict': ..., 'meta': {'source_format',
        'mmcnclip_version', 'source'}}``.

    Raises:
        CheckpointMismatchError: Not a Chinese CLIP checkpoint of ``fmt``
            (see :func:`convert_state_dict`).
    """
    converted, source_format = convert_state_dict(
        unwrap_checkpoint(checkpoint), fmt)
    if half:
        converted = {k: v.half() if v.is_floating_point() else v
                     for k, v in converted.items()}
    return dict(
        state_dict={k: v.contiguous().clone() for k, v in converted.items()},
        meta=dict(source_format=source_format, mmcnclip_version=__version__,
                  source=source))


def check_state_dict(state_dict: Dict[str, torch.Tensor],
                     expected: Dict[str, torch.Size],
                     source: str = 'checkpoint') -> dict:
    """Validate converted weights against a model's keys and shapes.

    Drops published-but-unused keys (the BERT pooler) when the model lacks
    them; keeps mis-shaped resizable keys (positional embeddings) for the
    model to interpolate, but only when the token-grid length is all that
    differs (:func:`is_grid_resize`). Everything else must match exactly.

    Args:
        state_dict (dict): Weights in the mmcnclip layout of the model.
        expected (dict): ``{key: shape}`` of the model's state dict.
        source (str): Name used in error messages. Defaults to
            ``'checkpoint'``.

    Returns:
        dict: ``state_dict`` without the dropped optional keys.

    Raises:
        CheckpointMismatchError: Naming every missing, unexpected and
            mis-shaped key.
    """
    state_dict = {
        k: v for k, v in state_dict.items()
        if k in expected or not re.fullmatch(OPTIONAL_KEYS, k)
    }
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k])}'
        for k, v in state_dict.items() if k in expected
        and v.shape != expected[k] and not (re.fullmatch(
            RESIZABLE_KEYS, k) and is_grid_resize(v.shape, expected[k]))
    ]
    problems = []
    if missing:
        problems.append(f'missing keys ({len(missing)}): {_preview(missing)}')
    if unexpected:
        problems.append(
            f'unexpected keys ({len(unexpected)}): {_preview(unexpected)}')
    if shapes:
        problems.append(f'mis-shaped keys ({len(shapes)}): {_preview(shapes)}')
    if problems:
        raise CheckpointMismatchError(
            f'{source} does not fit the model (wrong size or another '
            'model?); ' + '; '.join(problems))
    return state_dict


def is_grid_resize(src_shape, dst_shape, num_extra_tokens: int = 1) -> bool:
    """Whether a positional embedding of ``src_shape`` differs from
    ``dst_shape`` only by the size of its square token grid.

    Args:
        src_shape (Sequence[int]): ``(num_extra_tokens + H*H, C)``.
        dst_shape (Sequence[int]): ``(num_extra_tokens + h*h, C)``.
        num_extra_tokens (int): Leading non-grid tokens. Defaults to 1.

    Returns:
        bool: True when both are 2-D with the same width and square grids.
    """
    def grid(shape):
        if len(shape) != 2 or shape[0] <= num_extra_tokens:
            return None
        side = math.isqrt(shape[0] - num_extra_tokens)
        return side if side * side == shape[0] - num_extra_tokens else None

    return (len(src_shape) == len(dst_shape) == 2
            and src_shape[1] == dst_shape[1]
            and grid(src_shape) is not None and grid(dst_shape) is not None)


def _preview(items: list, limit: int = 12) -> str:
    shown = ', '.join(items[:limit])
    return shown + (f', ... (+{len(items) - limit} more)'
                    if len(items) > limit else '')


def unwrap_checkpoint(checkpoint: Mapping) -> dict:
    """The state dict inside a loaded checkpoint file (``state_dict``,
    ``model`` or ``module`` entry, else the mapping itself)."""
    for key in ('state_dict', 'model', 'module'):
        inner = checkpoint.get(key)
        if isinstance(inner, Mapping) and inner and all(
                isinstance(v, torch.Tensor) for v in inner.values()):
            return dict(inner)
    return dict(checkpoint)


def extract_tower(state_dict: Mapping,
                  prefix: str = 'backbone.',
                  fmt: Optional[str] = None) -> Tuple[dict, str]:
    """Take one tower out of a checkpoint of any supported layout.

    ``prefix`` names the tower in the mmcnclip layout: ``'backbone.'`` (image
    tower), ``'neck.'`` (image projection), ``'text_encoder.'`` or
    ``'text_proj.'``. For the image side only the raw image keys are
    converted, so the image tower of a CLIP whose text tower mmcnclip does not
    build (OpenAI/open_clip, Hugging Face ``CLIPModel``) can be used; keys of
    heads/necks of a composed model (e.g. an mmdet detector trained with an
    mmcnclip backbone) are ignored for the ``mmcnclip`` layout.

    Args:
        state_dict (Mapping): Source weights (``module.`` prefixes allowed).
        prefix (str): Tower prefix in the mmcnclip layout. Defaults to
            ``'backbone.'``.
        fmt (str, optional): Source layout; detected when None.

    Returns:
        tuple[dict, str]: The tower's weights with ``prefix`` removed, and
        the source layout.

    Raises:
        TowerNotFoundError: No key of the checkpoint belongs to the tower.
    """
    state_dict = strip_module_prefix(state_dict)
    fmt = fmt or detect_format(state_dict)
    spec = _format(fmt)
    if fmt == 'mmcnclip':
        rules = [re.compile(r[0]) for r in spec.text]
        state_dict = {k: v for k, v in state_dict.items()
                      if any(p.fullmatch(k) for p in rules)}
    elif prefix in ('backbone.', 'neck.') and spec.image_prefixes:
        image_keys = {k: v for k, v in state_dict.items()
                      if k.startswith(spec.image_prefixes)}
        # A bare open_clip image tower has no prefix at all.
        state_dict = image_keys or state_dict
    converted, fmt = convert_state_dict(state_dict, fmt)
    tower = {k[len(prefix):]: v for k, v in converted.items()
             if k.startswith(prefix)}
    if not tower:
        raise TowerNotFoundError(
            f'The {fmt}-layout checkpoint holds no {prefix!r} weights; it '
            f'converts to: {_preview(sorted(converted))}')
    return tower, fmt
