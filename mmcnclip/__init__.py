"""mmcnclip: Chinese CLIP as an OpenMMLab plugin.

``import mmcnclip`` (or ``custom_imports=dict(imports=['mmcnclip'])``)
registers every module under the ``mmcnclip`` scope and exposes it as
``mmcnclip.X``, so that ``type='mmcnclip.X'`` resolves from any OpenMMLab
registry (mmengine's ``Registry.get`` imports ``mmcnclip.X`` for a scope it
does not know); lets mmengine read mmengine training checkpoints,
Hugging Face folders and ``.safetensors`` files, all weights-only; and makes
our model names resolve in mmpretrain's ``get_model``/inferencers.
"""
from .version import __version__
from .utils.env import (check_mmcv_version, check_transformers_version,
                        import_mmcv_quietly)

check_mmcv_version()
check_transformers_version()
import_mmcv_quietly()

from .checkpoint.download import register_download_errors  # noqa: E402
from .checkpoint.io import (allow_mmengine_checkpoint_globals,  # noqa: E402
                            read_local_checkpoint)
from .compat import extend_local_checkpoint_loader  # noqa: E402

allow_mmengine_checkpoint_globals()
extend_local_checkpoint_loader(read_local_checkpoint)
register_download_errors()

from . import apis, datasets, engine, evaluation, models  # noqa: E402,F401
from .model_index import hook_model_hub  # noqa: E402
from .registry import registered_modules  # noqa: E402

hook_model_hub()  # our model names resolve in mmpretrain.list_models/get_model
globals().update(registered_modules())  # ``mmcnclip.X`` for every type

__all__ = ['__version__', *registered_modules()]
