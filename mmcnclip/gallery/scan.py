"""Find the photos of a folder: relative path, size and modification time."""
import os
import os.path as osp
from typing import Dict, NamedTuple

#: file name endings (lower case) indexed as images
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif',
                    '.tiff')


class FileStat(NamedTuple):
    """What tells a changed file from an unchanged one."""
    size: int
    mtime_ns: int


def scan_folder(root: str) -> Dict[str, FileStat]:
    """List the image files under ``root``, recursively.

    Symbolic links are not followed (neither to folders nor to files), so
    nothing outside ``root`` is ever indexed or served.

    Args:
        root (str): The photo folder.

    Returns:
        dict[str, FileStat]: Relative POSIX path -> size and mtime, sorted by
        path.
    """
    if not osp.isdir(root):
        raise NotADirectoryError(f'Photo folder not found: {root}')
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if not name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            path = osp.join(folder, name)
            if osp.islink(path):
                continue
            stat = os.stat(path)
            rel = osp.relpath(path, root).replace(os.sep, '/')
            found[rel] = FileStat(stat.st_size, stat.st_mtime_ns)
    return dict(sorted(found.items()))


def resolve_inside(root: str, rel_path: str) -> str:
    """The real path of ``rel_path`` under ``root``; refuses any escape.

    Args:
        root (str): The photo folder.
        rel_path (str): A path relative to ``root`` (as stored in the
            gallery database).

    Returns:
        str: The absolute path.

    Raises:
        PermissionError: For absolute paths, ``..`` components, or links
            that lead outside ``root``.
    """
    parts = rel_path.replace('\\', '/').split('/')
    if osp.isabs(rel_path) or '..' in parts or not rel_path:
        raise PermissionError(f'Refused path outside the photo folder: '
                              f'{rel_path!r}')
    real_root = osp.realpath(root)
    path = osp.realpath(osp.join(real_root, *parts))
    if osp.commonpath([real_root, path]) != real_root:
        raise PermissionError(f'Refused path outside the photo folder: '
                              f'{rel_path!r}')
    return path
