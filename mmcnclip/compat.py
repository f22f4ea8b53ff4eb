"""The only changes mmcnclip makes to other libraries' state.

Everything else mmcnclip does at import goes through public mechanisms
(registry parents and ``Registry.get``'s import fallback, mmengine's
``register_scheme``, ``torch.serialization.add_safe_globals``, mmpretrain's
``ModelHub.register_model_index``). Two jobs have no public hook:

- mmengine's local-file checkpoint loader reads only what ``torch.load``
  reads; :func:`extend_local_checkpoint_loader` wraps it (the original still
  reads every file it can) so that ``load_from``/``tools/test.py CKPT``/
  ``get_model(pretrained=...)`` also take Hugging Face folders and
  ``.safetensors`` files.
- mmpretrain's ``ModelHub`` registers its own index lazily and refuses
  duplicate names, and mmpretrain ships ``cn-clip_*`` names of its own:
  :func:`after_mmpretrain_model_index` runs our registration right after
  mmpretrain's, and :func:`make_room_in_model_hub` moves mmpretrain's
  same-named entries to a prefixed name.

- Building a model for low-memory loading without writing its weights:
  :func:`skip_weight_init` swaps ``torch.nn.init``'s functions for no-ops
  while the model is built (restored on exit).

``tests/test_compat.py`` fails loudly when any patched internal changes.
"""
import contextlib
import functools
from typing import Callable, Iterable

import torch

#: mmengine's scheme for local files.
LOCAL_SCHEME = ''


def extend_local_checkpoint_loader(extend: Callable) -> None:
    """Wrap mmengine's local-file loader with ``extend``.

    Idempotent. ``extend(filename, map_location, original)`` gets mmengine's
    own ``load_from_local`` as ``original``.

    Args:
        extend (callable): The wrapper body.
    """
    from mmengine.runner import CheckpointLoader
    from mmengine.runner.checkpoint import load_from_local
    current = CheckpointLoader._schemes[LOCAL_SCHEME]
    if getattr(current, '__wrapped__', None) is load_from_local:
        return

    @functools.wraps(load_from_local)
    def load_local(filename, map_location):
        return extend(filename, map_location, load_from_local)

    CheckpointLoader.register_scheme(
        prefixes=LOCAL_SCHEME, loader=load_local, force=True)


def after_mmpretrain_model_index(callback: Callable[[], None]) -> None:
    """Call ``callback`` once, right after mmpretrain registers its model
    index (which it does lazily, on the first ``list_models``/``get``).

    Args:
        callback (callable): Registers more models.
    """
    from mmpretrain.apis import ModelHub
    original = ModelHub._register_mmpretrain_models
    if getattr(original, '_mmcnclip_callback', None) is callback:
        return
    unbound = original.__func__
    done = []

    def register(cls):
        unbound(cls)
        if not done:
            done.append(True)
            callback()

    register._mmcnclip_callback = callback
    ModelHub._register_mmpretrain_models = classmethod(register)


def make_room_in_model_hub(names: Iterable[str], prefix: str,
                           is_ours: Callable) -> None:
    """Remove the ``ModelHub`` entries named ``names`` so that ours can be
    registered; mmpretrain's own are kept under ``prefix + name``.

    Args:
        names (Iterable[str]): Lower-case model names.
        prefix (str): Prefix of mmpretrain's displaced entries.
        is_ours (callable): ``is_ours(metainfo)`` tells our own entries.
    """
    from mmpretrain.apis import ModelHub
    models = ModelHub._models_dict
    for name in names:
        old = models.pop(name, None)
        if old is not None and not is_ours(old):
            models[prefix + name] = old


_INIT_FUNCTIONS = ('uniform_', 'normal_', 'trunc_normal_', 'constant_',
                   'ones_', 'zeros_', 'eye_', 'dirac_', 'xavier_uniform_',
                   'xavier_normal_', 'kaiming_uniform_', 'kaiming_normal_',
                   'orthogonal_', 'sparse_')


@contextlib.contextmanager
def skip_weight_init():
    """Make ``torch.nn.init`` functions no-ops while building a model, so
    that its (to be overwritten) weights are never written and their pages
    never become resident. Not thread-safe: it patches ``torch.nn.init``
    (restored on exit). Building on the meta device instead would leave the
    non-persistent buffers (data preprocessor mean/std) empty."""
    saved = {n: getattr(torch.nn.init, n) for n in _INIT_FUNCTIONS}
    try:
        for name in saved:
            setattr(torch.nn.init, name, lambda tensor, *a, **k: tensor)
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.nn.init, name, fn)
