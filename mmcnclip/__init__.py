"""mmcnclip: Chinese CLIP as an OpenMMLab plugin.

``import mmcnclip`` (or ``custom_imports=dict(imports=['mmcnclip'])``)
registers every module under the ``mmcnclip`` scope (``type='mmcnclip.X'``)
and routes mmengine's local checkpoint loading through mmcnclip's safe loader.
"""
from .version import __version__
from .utils.env import check_mmcv_version, check_transformers_version

check_mmcv_version()
check_transformers_version()

from .checkpoint.io import register_mmengine_loader  # noqa: E402

register_mmengine_loader()

from . import apis, datasets, engine, evaluation, models  # noqa: E402,F401
from .model_index import hook_model_hub  # noqa: E402

hook_model_hub()  # our model names resolve in mmpretrain.list_models/get_model
from .models import *  # noqa: E402,F401,F403

__all__ = ['__version__']
