"""Install mmcnclip: ``pip install -r requirements/cpu.txt -e .``"""
import re
import shutil
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r"__version__ = '([^']+)'",
                    (HERE / 'mmcnclip' / 'version.py').read_text()).group(1)



def add_mim_extension():
    """Link ``model-index.yml``, ``configs/`` and ``tools/`` into the package
    (``mmcnclip/.mim``) so that mmpretrain's ``get_model(name)`` resolves our
    names from an installed package too and OpenMMLab's ``mim`` finds them
    (``mim search/test/train mmcnclip``) in a regular install. The links keep
    the source tree the single copy (an editable install reads through them);
    a wheel build copies the files they point to."""
    mim = HERE / 'mmcnclip' / '.mim'
    mim.mkdir(exist_ok=True)
    for name in ('model-index.yml', 'configs', 'tools'):
        dst = mim / name
        if dst.is_symlink() or dst.is_file():
            dst.unlink()
        elif dst.is_dir():
            shutil.rmtree(dst)
        dst.symlink_to(Path('..', '..', name))


add_mim_extension()

setup(
    name='mmcnclip',
    version=VERSION,
    description='Chinese CLIP as an OpenMMLab (mmengine/mmpretrain) plugin',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(include=['mmcnclip', 'mmcnclip.*']),
    package_data={
        'mmcnclip': [
            'text/vocab.txt', 'text/templates/*.txt',
            'text/classnames/*.txt', 'gallery/static/*.html',
            '.mim/model-index.yml',
            '.mim/configs/**/*.py', '.mim/configs/*.yml',
            '.mim/tools/**/*.py', '.mim/tools/*.sh'
        ]
    },
    # Upper bounds keep pip from pulling another multi-GB torch or a release
    # that breaks the 2024 OpenMMLab stack. mmcv is deliberately absent:
    # mmcv-lite and mmcv own the same files, install exactly one of them
    # (checked at import).
    install_requires=[
        # >= 2.6: torch.load is weights-only by default (mmengine's own
        # checkpoint loader relies on it, see mmcnclip/checkpoint/io.py).
        'torch>=2.6,<=2.14.1',
        'torchvision<=0.29.1',
        'mmengine>=0.10.4,<0.11',
        'mmpretrain>=1.2.0,<1.3',
        'numpy<2.4',  # numpy 2.4 removed np.in1d (mmpretrain metrics)
        'opencv-python<5',  # opencv 5 needs numpy >= 2.4
        'setuptools<82',  # 82 removed pkg_resources
        'safetensors',
        'pillow',
        'tqdm',
    ],
    extras_require={
        # mmpretrain's multimodal import crashes on transformers >= 4.52
        'hf': ['transformers>=4.28,<4.52'],
        'onnx': ['onnx', 'onnxruntime'],
        'tests': ['cn-clip', 'pytest'],
    },
    license='Apache-2.0',
)
