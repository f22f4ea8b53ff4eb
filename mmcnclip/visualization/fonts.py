"""Find a font that draws Chinese text."""
import os
import os.path as osp
import shutil
import subprocess
from typing import Optional

#: Environment variable naming a CJK font file explicitly.
FONT_ENV = 'MMCNCLIP_CJK_FONT'

#: Font files of the Debian/Ubuntu packages fonts-wqy-microhei,
#: fonts-noto-cjk and fonts-wqy-zenhei.
KNOWN_FONTS = (
    '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc',
    '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc',
    '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc',
)

INSTALL_HINT = (
    'install one (Debian/Ubuntu: `apt-get install fonts-wqy-microhei`) or '
    f'point {FONT_ENV} at a .ttf/.ttc/.otf file with Chinese glyphs')


def _fontconfig_match() -> Optional[str]:
    """The file fontconfig picks for Chinese, if fontconfig is there."""
    if shutil.which('fc-match') is None:
        return None
    out = subprocess.run(['fc-match', '-f', '%{file}', ':lang=zh'],
                         capture_output=True, text=True, timeout=30)
    path = out.stdout.strip()
    return path if out.returncode == 0 and osp.isfile(path) else None


def find_cjk_font() -> str:
    """Path of a font file with Chinese glyphs.

    Looks at ``$MMCNCLIP_CJK_FONT``, then the files of the common Debian
    packages, then asks fontconfig for a Chinese font.

    Returns:
        str: The font file.

    Raises:
        FileNotFoundError: ``$MMCNCLIP_CJK_FONT`` names no file, or no
            Chinese font is installed (the message says how to get one).
    """
    explicit = os.environ.get(FONT_ENV)
    if explicit:
        if not osp.isfile(explicit):
            raise FileNotFoundError(f'{FONT_ENV}={explicit} is not a file')
        return explicit
    for path in KNOWN_FONTS:
        if osp.isfile(path):
            return path
    found = _fontconfig_match()
    if found is None:
        raise FileNotFoundError(
            'No font with Chinese glyphs found for the prediction pictures: '
            + INSTALL_HINT)
    return found
