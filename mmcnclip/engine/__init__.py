"""Runner hooks and optimizer constructors of mmcnclip."""
from .optim_constructor import (OfficialParamGroupsConstructor,
                                official_no_decay, official_param_groups)
from .prepare_hook import PrepareForInferenceHook

__all__ = [
    'OfficialParamGroupsConstructor', 'PrepareForInferenceHook',
    'official_no_decay', 'official_param_groups'
]
