from .convert import (CheckpointMismatchError, check_state_dict,
                      convert_checkpoint, convert_state_dict, detect_format)
from .file_check import CheckpointFileError
from .io import CheckpointSafetyError, load_checkpoint_file
from .low_memory import load_pretrained
from .model_hook import LoadsAnyCheckpointLayout

__all__ = [
    'CheckpointFileError', 'CheckpointMismatchError', 'CheckpointSafetyError',
    'check_state_dict', 'convert_checkpoint', 'convert_state_dict',
    'detect_format', 'load_checkpoint_file', 'load_pretrained',
    'LoadsAnyCheckpointLayout'
]
