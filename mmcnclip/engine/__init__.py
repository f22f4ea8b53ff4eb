"""Runner hooks of mmcnclip."""
from .dataset_classes_hook import DatasetClassesHook
from .prediction_pictures_hook import PredictionPicturesHook
from .prepare_hook import PrepareForInferenceHook

__all__ = [
    'DatasetClassesHook', 'PredictionPicturesHook', 'PrepareForInferenceHook'
]
