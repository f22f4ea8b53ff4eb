"""Folder scanning and the photo-folder boundary."""
import os

import pytest

from mmcnclip.gallery import resolve_inside, scan_folder


def test_scan_recursive_images_only_no_links(tmp_path):
    root = tmp_path / 'photos'
    (root / 'a' / 'b').mkdir(parents=True)
    for name in ('x.JPG', 'a/y.png', 'a/b/z.webp', 'a/b/w.TIFF', 'notes.txt'):
        (root / name).write_bytes(b'1234')
    outside = tmp_path / 'secret.png'
    outside.write_bytes(b'12')
    os.symlink(outside, root / 'link.png')
    os.symlink(tmp_path, root / 'dirlink')
    found = scan_folder(str(root))
    assert list(found) == ['a/b/w.TIFF', 'a/b/z.webp', 'a/y.png', 'x.JPG']
    assert found['x.JPG'].size == 4
    with pytest.raises(NotADirectoryError, match='nowhere'):
        scan_folder(str(tmp_path / 'nowhere'))


@pytest.mark.parametrize('bad', ['../secret.png', 'a/../../secret.png',
                                 '/etc/passwd', '', 'link.png'])
def test_resolve_inside_refuses_escapes(tmp_path, bad):
    root = tmp_path / 'photos'
    (root / 'a').mkdir(parents=True)
    (tmp_path / 'secret.png').write_bytes(b'1')
    os.symlink(tmp_path / 'secret.png', root / 'link.png')
    with pytest.raises(PermissionError, match='outside the photo folder'):
        resolve_inside(str(root), bad)
    (root / 'a' / 'ok.png').write_bytes(b'1')
    assert resolve_inside(str(root), 'a/ok.png') == str(
        (root / 'a' / 'ok.png').resolve())
