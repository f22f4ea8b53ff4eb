"""Runner hooks of mmcnclip."""
from .prepare_hook import PrepareForInferenceHook
from .progress_hook import DatasetProgressHook

__all__ = ['DatasetProgressHook', 'PrepareForInferenceHook']
