"""Runner hooks and optimizer constructors of mmcnclip."""
from .dataset_classes_hook import DatasetClassesHook
from .optim_constructor import (OfficialParamGroupsConstructor,
                                official_no_decay, official_param_groups)
from .prediction_pictures_hook import PredictionPicturesHook
from .prepare_hook import PrepareForInferenceHook
from .progress_hook import DatasetProgressHook

__all__ = [
    'DatasetClassesHook', 'DatasetProgressHook',
    'OfficialParamGroupsConstructor', 'PredictionPicturesHook',
    'PrepareForInferenceHook', 'official_no_decay', 'official_param_groups'
]
