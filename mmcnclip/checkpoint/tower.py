"""Loading one tower (image or text encoder) of any published checkpoint
into an mmcnclip backbone, strictly: what their ``init_cfg=dict(
type='Pretrained', ...)`` does."""
import re
from typing import Mapping, Optional

import torch

from .convert import check_state_dict, extract_tower, unwrap_checkpoint


def load_pretrained_tower(module: torch.nn.Module,
                          checkpoint: str,
                          prefix: str = 'backbone.',
                          fmt: Optional[str] = None,
                          map_location='cpu') -> str:
    """Load one tower of a checkpoint file into ``module``, strictly.

    What ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)`` of
    an mmcnclip backbone does: the file is read safely, converted from its
    layout (official ``.pt``, Hugging Face, mmpretrain, mmcnclip, open_clip
    or HF BERT), the tower named by ``prefix`` is taken out and every key
    and shape is checked against ``module``.

    Args:
        module (nn.Module): The tower to fill.
        checkpoint (str): File or Hugging Face folder (local path; mmengine
            ``CheckpointLoader`` URLs are resolved by mmengine first).
        prefix (str): Tower prefix in the mmcnclip layout. Defaults to
            ``'backbone.'``.
        fmt (str, optional): Source layout; detected when None.
        map_location: Defaults to ``'cpu'``.

    Returns:
        str: The detected or given source layout.
    """
    from mmengine.runner import CheckpointLoader
    raw = unwrap_checkpoint(
        CheckpointLoader.load_checkpoint(checkpoint, map_location))
    tower, fmt = extract_tower(raw, prefix, fmt)
    expected = {k: v.shape for k, v in module.state_dict().items()}
    # Parts a tower was built without (e.g. the attention pool of a dense
    # ModifiedResNet) are named by the module; all other keys must match.
    ignore = getattr(module, 'pretrained_ignore_keys', None)
    if ignore:
        tower = {k: v for k, v in tower.items()
                 if k in expected or not re.fullmatch(ignore, k)}
    # Checked with the prefix so that the optional/resizable key rules apply.
    tower = check_state_dict(
        {prefix + k: v for k, v in tower.items()},
        {prefix + k: v for k, v in expected.items()},
        source=f'{prefix!r} tower of the {fmt}-layout checkpoint {checkpoint}')
    module.load_state_dict({k[len(prefix):]: v for k, v in tower.items()},
                           strict=True)
    return fmt


def init_tower_from_cfg(module: torch.nn.Module,
                        default_prefix: str = 'backbone.') -> bool:
    """Handle ``init_cfg=dict(type='Pretrained', ...)`` of an mmcnclip tower.

    mmengine's own ``PretrainedInit`` loads non-strictly and without layout
    conversion; towers call this from ``init_weights`` instead, so that any
    published checkpoint layout loads (see :func:`load_pretrained_tower`).
    Recognised keys: ``checkpoint``, ``prefix`` (tower prefix in the mmcnclip
    layout, default ``default_prefix``), ``format`` (source layout, detected
    when absent) and ``map_location``.

    Args:
        module (nn.Module): A ``BaseModule`` tower with ``init_cfg``.
        default_prefix (str): Defaults to ``'backbone.'``.

    Returns:
        bool: Whether weights were loaded (False: no Pretrained init_cfg).
    """
    cfg = getattr(module, 'init_cfg', None)
    if not isinstance(cfg, Mapping) or cfg.get('type') != 'Pretrained':
        return False
    unknown = set(cfg) - {'type', 'checkpoint', 'prefix', 'format',
                          'map_location'}
    if unknown or 'checkpoint' not in cfg:
        raise ValueError(
            f'{type(module).__name__}: Pretrained init_cfg needs `checkpoint` '
            'and accepts `prefix`, `format`, `map_location`; got '
            f'{sorted(cfg)}')
    fmt = load_pretrained_tower(
        module, cfg['checkpoint'], cfg.get('prefix', default_prefix),
        cfg.get('format'), cfg.get('map_location', 'cpu'))
    from mmengine.logging import print_log
    print_log(
        f'Loaded {type(module).__name__} from the '
        f'{cfg.get("prefix", default_prefix)!r} tower of {cfg["checkpoint"]} '
        f'({fmt} layout)', logger='current')
    module.is_init = True
    return True
