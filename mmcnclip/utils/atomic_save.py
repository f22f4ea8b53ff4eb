"""Writing files so that an existing good file is never half-overwritten."""
import errno
import os
import os.path as osp
import shutil
import tempfile

import torch


def atomic_torch_save(obj, path: str) -> None:
    """``torch.save(obj, path)`` that either fully succeeds or changes nothing.

    The object is written to a temporary file in the destination folder,
    flushed to disk (``fsync``) and renamed over ``path`` (an atomic
    operation on POSIX file systems). If anything fails (disk full, file
    size limit, permissions), the temporary file is removed and an existing
    ``path`` keeps its old content. A symbolic link at ``path`` is followed:
    the file it points to is replaced.

    Args:
        obj: Anything :func:`torch.save` accepts.
        path (str): Destination file; its folder is created if needed.

    Raises:
        OSError: ``could not write PATH`` with the reason, e.g. a full disk.
    """
    path = osp.realpath(path)
    folder = osp.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    except OSError as err:
        raise OSError(err.errno, f'Could not write {path}: cannot create a '
                      f'file in {folder} ({err.strerror})') from None
    try:
        os.chmod(tmp, _default_file_mode())  # mkstemp creates it 0600
        with os.fdopen(fd, 'wb') as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:
        # torch reports a failed write as an opaque RuntimeError.
        free = shutil.disk_usage(folder).free / 2**20
        raise OSError(
            getattr(err, 'errno', None) or errno.EIO,
            f'Disk full / could not write {path} ({free:.0f} MiB free in '
            f'{folder}; file size limit or permissions?): {err}. An '
            'existing file there was left unchanged') from err
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    _fsync_folder(folder)


def _default_file_mode() -> int:
    """The mode ``open()`` would give a new file (0666 minus the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_folder(folder: str) -> None:
    """Persist a rename in ``folder`` (best effort; not every OS can)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
