"""Clear errors for checkpoint files that are empty, truncated, corrupt, not
checkpoints at all, or in another format than their extension says."""
import json
import os.path as osp
import struct

#: What a checkpoint file's first bytes say it is.
TORCH_ZIP, TORCH_PICKLE, SAFETENSORS = 'torch-zip', 'torch-pickle', \
    'safetensors'
#: Exceptions torch / safetensors raise for truncated or corrupt files.
#: (The file itself was opened successfully before, so an OSError here is
#: torch failing on its content.)
READ_ERRORS = (RuntimeError, EOFError, ValueError, KeyError, OSError,
               struct.error)


class CheckpointFileError(ValueError):
    """A checkpoint file is empty, truncated, corrupt, not a checkpoint or
    in another format than its extension says."""


def sniff_format(path: str) -> str:
    """Tell the format of a checkpoint file from its first bytes.

    Args:
        path (str): The file.

    Returns:
        str: :data:`TORCH_ZIP` (``torch.save``), :data:`TORCH_PICKLE`
        (legacy ``torch.save``), :data:`SAFETENSORS`, ``'empty'`` or
        ``'unknown'``.
    """
    with open(path, 'rb') as f:
        head = f.read(16)
    if not head:
        return 'empty'
    if head.startswith(b'PK\x03\x04'):
        return TORCH_ZIP
    if head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle protocol 2-5
        return TORCH_PICKLE
    if len(head) >= 10 and head[8:9] == b'{':  # u64 header size + json
        return SAFETENSORS
    return 'unknown'


def check_checkpoint_file(path: str) -> str:
    """Refuse a file that cannot be a readable checkpoint, naming why.

    Args:
        path (str): The file.

    Returns:
        str: Its format (see :func:`sniff_format`).

    Raises:
        CheckpointFileError: The file is empty, not a checkpoint, or a
            safetensors file not named ``.safetensors`` (or the reverse).
    """
    kind = sniff_format(path)
    size = osp.getsize(path)
    if kind == 'empty':
        raise CheckpointFileError(
            f'Checkpoint {path} is empty (0 bytes): an interrupted download '
            'or save? Download or save it again')
    if kind == 'unknown':
        with open(path, 'rb') as f:
            head = f.read(24)
        raise CheckpointFileError(
            f'{path} is not a checkpoint: neither a torch.save file nor '
            f'safetensors ({size} bytes, starting with {head!r})')
    is_safetensors_name = path.endswith('.safetensors')
    if kind == SAFETENSORS and not is_safetensors_name:
        raise CheckpointFileError(
            f'{path} is a safetensors file, but its name does not end with '
            '.safetensors: rename it to *.safetensors')
    if kind != SAFETENSORS and is_safetensors_name:
        raise CheckpointFileError(
            f'{path} is a PyTorch (torch.save) checkpoint, not safetensors: '
            'rename it to *.pth')
    return kind


def corrupt_file_error(path: str, kind: str,
                       err: Exception) -> CheckpointFileError:
    """The error to raise when reading a file of a known format failed.

    Args:
        path (str): The file.
        kind (str): Its format (see :func:`sniff_format`).
        err (Exception): What torch or safetensors raised.

    Returns:
        CheckpointFileError: Naming the file, its size and the likely cause.
    """
    size = osp.getsize(path)
    cause = 'truncated or corrupt'
    if kind == SAFETENSORS:
        cause = _safetensors_problem(path, size) or cause
    return CheckpointFileError(
        f'Cannot read checkpoint {path} ({size} bytes, {kind} format): it is '
        f'{cause} (an interrupted download or save?). Details: '
        f'{type(err).__name__}: {err}')


def _safetensors_problem(path: str, size: int) -> str:
    """Say what is wrong with a safetensors header, if anything."""
    with open(path, 'rb') as f:
        header_size = struct.unpack('<Q', f.read(8))[0]
        if 8 + header_size > size:
            return (f'truncated: its header alone needs {header_size} bytes')
        try:
            header = json.loads(f.read(header_size))
        except ValueError:
            return 'corrupt: its header is not valid JSON'
    try:
        ends = [int(entry['data_offsets'][1])
                for name, entry in header.items() if name != '__metadata__']
    except (TypeError, KeyError, IndexError, ValueError, AttributeError):
        return 'corrupt: its header does not describe tensors'
    needed = 8 + header_size + max(ends, default=0)
    if needed > size:
        return f'truncated: its tensors need {needed} bytes'
    return ''
