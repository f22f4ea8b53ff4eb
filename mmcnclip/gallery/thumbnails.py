"""Thumbnails of gallery images, generated once and cached on disk."""
import hashlib
import os
import os.path as osp

from PIL import Image, ImageOps


class ThumbnailCache:
    """JPEG thumbnails keyed by file path, size and modification time.

    Args:
        cache_dir (str): Folder for the cached files (created).
        size (int): Longest side in pixels. Defaults to 256.
    """

    def __init__(self, cache_dir: str, size: int = 256):
        self.cache_dir, self.size = cache_dir, size
        os.makedirs(cache_dir, exist_ok=True)

    def get(self, path: str) -> str:
        """The cached thumbnail of image file ``path`` (made if missing).

        Args:
            path (str): Absolute path of the image.

        Returns:
            str: Path of the JPEG thumbnail.
        """
        stat = os.stat(path)
        key = hashlib.sha1(f'{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0'
                           f'{self.size}'.encode()).hexdigest()
        out = osp.join(self.cache_dir, f'{key}.jpg')
        if not osp.isfile(out):
            with Image.open(path) as img:
                img = ImageOps.exif_transpose(img)
                img.thumbnail((self.size, self.size))
                tmp = f'{out}.tmp{os.getpid()}'
                img.convert('RGB').save(tmp, 'JPEG', quality=90)
            os.replace(tmp, out)
        return out
