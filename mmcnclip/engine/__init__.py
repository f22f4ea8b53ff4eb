"""Runner hooks of mmcnclip."""
from .prepare_hook import PrepareForInferenceHook

__all__ = ['PrepareForInferenceHook']
