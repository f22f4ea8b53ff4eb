"""Runner hooks of mmcnclip."""
from .dataset_classes_hook import DatasetClassesHook
from .prepare_hook import PrepareForInferenceHook

__all__ = ['DatasetClassesHook', 'PrepareForInferenceHook']
