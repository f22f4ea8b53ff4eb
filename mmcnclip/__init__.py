"""mmcnclip: Chinese CLIP as an OpenMMLab plugin.

``import mmcnclip`` (or ``custom_imports=dict(imports=['mmcnclip'])``)
registers every module under the ``mmcnclip`` scope (``type='mmcnclip.X'``)
and routes mmengine's local checkpoint loading through mmcnclip's safe loader.
"""
from .version import __version__
from .utils.env import (check_mmcv_version, check_transformers_version,
                        import_mmcv_quietly)

check_mmcv_version()
check_transformers_version()
import_mmcv_quietly()

from .checkpoint.download import register_download_errors  # noqa: E402
from .checkpoint.io import register_mmengine_loader  # noqa: E402

register_mmengine_loader()
register_download_errors()

from . import apis, datasets, engine, evaluation, models  # noqa: E402,F401
from .model_index import hook_model_hub  # noqa: E402

hook_model_hub()  # our model names resolve in mmpretrain.list_models/get_model
from .models import *  # noqa: E402,F401,F403

__all__ = ['__version__']
