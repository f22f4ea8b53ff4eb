"""Register mmcnclip's model index with mmpretrain's ``ModelHub``.

After ``import mmcnclip``, ``mmpretrain.list_models('cn-clip*')``,
``mmpretrain.get_model(name, ...)`` and the mmpretrain inferencers resolve
the names of ``model-index.yml`` to mmcnclip's configs.

mmpretrain ships its own ``cn-clip_*_zeroshot-cls_cifar100`` entries (its
``ChineseCLIP`` port). Names in both indexes resolve to mmcnclip; the
displaced mmpretrain entries stay reachable under the prefix
:data:`MMPRETRAIN_PREFIX`, e.g.
``get_model('mmpretrain:cn-clip_resnet50_zeroshot-cls_cifar100')``.

mmpretrain reads its own index lazily, on the first ``list_models`` or
``get_model(name)``, and refuses duplicate names; we register ours right
after it instead of forcing it at import time (reading mmpretrain's index
takes about a second). Both steps touch ``ModelHub`` internals, so they live
in :mod:`mmcnclip.compat`.
"""
import os.path as osp
from typing import List, Optional

from mmpretrain.apis import ModelHub

from .compat import after_mmpretrain_model_index, make_room_in_model_hub
from .model_table import config_root

#: Prefix of mmpretrain's entries that mmcnclip entries replace.
MMPRETRAIN_PREFIX = 'mmpretrain:'


def find_model_index() -> Optional[str]:
    """Locate ``model-index.yml`` (installed package, then source tree).

    Returns:
        str | None: Its path; None when neither exists.
    """
    try:
        path = osp.join(config_root(), 'model-index.yml')
    except FileNotFoundError:
        return None
    return path if osp.isfile(path) else None


def register_mmcnclip_models(index_path: Optional[str] = None) -> List[str]:
    """Add mmcnclip's models to ``ModelHub``, replacing same-named ones.

    Idempotent. Config paths of the index are taken relative to the folder
    holding ``model-index.yml``.

    Args:
        index_path (str, optional): The index; :func:`find_model_index` when
            None. Defaults to None.

    Returns:
        list[str]: Names of mmcnclip's models (empty if no index is found).
    """
    index_path = index_path or find_model_index()
    if index_path is None:
        return []
    from modelindex.load_model_index import load
    index = load(index_path)
    index.build_models_with_collections()
    names = [model.name.lower() for model in index.models]
    make_room_in_model_hub(names, MMPRETRAIN_PREFIX,
                           lambda old: _is_ours(old, index_path))
    ModelHub.register_model_index(
        index_path, config_prefix=osp.dirname(index_path))
    return names


def _is_ours(metainfo, index_path: str) -> bool:
    root = osp.dirname(osp.abspath(index_path))
    return osp.abspath(metainfo.filepath or '').startswith(root + osp.sep)


def hook_model_hub() -> None:
    """Register our index right after mmpretrain lazily registers its own,
    so that every ``list_models``/``get_model``/inferencer call sees
    mmcnclip's entries with precedence. Idempotent."""
    after_mmpretrain_model_index(register_mmcnclip_models)
