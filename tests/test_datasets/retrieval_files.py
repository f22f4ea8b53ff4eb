"""Write retrieval data in the official Chinese-CLIP layouts (no download).

``{split}_imgs.tsv`` (``image_id<TAB>urlsafe-base64 image``) and
``{split}_texts.jsonl`` (``text_id``, ``text``, ``image_ids``) under a
dataset folder, and the LMDB built from them by the official
``cn_clip.preprocess.build_lmdb_dataset``. Shared with ``tests/test_tools``
(import ``test_datasets.retrieval_files``).
"""
import base64
import io
import json
import os.path as osp
import sys

import numpy as np
from PIL import Image


def smooth_image(seed: int, size: int = 48) -> Image.Image:
    """An RGB picture with distinct low-frequency content (random weights
    give nearly identical features for white noise)."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    return coarse.resize((size, size), Image.BILINEAR)


def write_retrieval(root: str, split: str, images: dict,
                    texts: list) -> str:
    """Write ``{split}_imgs.tsv`` and ``{split}_texts.jsonl``.

    Args:
        root (str): Dataset folder.
        split (str): ``train``, ``valid`` or ``test``.
        images (dict): Image id -> PIL image (saved as JPEG, like the
            official preprocessing).
        texts (list[dict]): ``dict(text_id, text, image_ids)``.

    Returns:
        str: ``root``.
    """
    with open(osp.join(root, f'{split}_imgs.tsv'), 'w') as f:
        for image_id, img in images.items():
            buf = io.BytesIO()
            img.save(buf, format='JPEG', quality=95)
            data = base64.urlsafe_b64encode(buf.getvalue()).decode()
            f.write(f'{image_id}\t{data}\n')
    with open(osp.join(root, f'{split}_texts.jsonl'), 'w',
              encoding='utf-8') as f:
        for t in texts:
            f.write(json.dumps(t, ensure_ascii=False) + '\n')
    return root


def tiny_retrieval_set(root: str, splits=('train', 'valid', 'test'),
                       num_images: int = 4) -> str:
    """A few images and captions in every split (two captions per image,
    one caption of the first two images)."""
    images = {i: smooth_image(i) for i in range(1, num_images + 1)}
    texts = [dict(text_id=10 * i + j, text=f'第{i}张图片的描述{j}',
                  image_ids=[i]) for i in images for j in range(2)]
    if num_images > 1:
        texts.append(dict(text_id=99, text='两张图片', image_ids=[1, 2]))
    for split in splits:
        write_retrieval(root, split, images, texts)
    return root


def build_official_lmdb(root: str, splits=('valid', )) -> str:
    """Run ``cn_clip.preprocess.build_lmdb_dataset`` on ``root``: writes
    ``root/lmdb/{split}/{imgs,pairs}``."""
    from helpers.processes import run
    run([sys.executable, '-m', 'cn_clip.preprocess.build_lmdb_dataset',
         '--data_dir', root, '--splits', ','.join(splits)])
    return osp.join(root, 'lmdb')
