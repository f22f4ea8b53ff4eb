"""Generated photo-like JPEG datasets: an ELEVATER image folder and the same
pictures as a CIFAR-100 python archive (32x32), so that decoding, resizing
and the metric cost what they cost on real data, without a download."""
import os
import os.path as osp
import pickle
from typing import List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def photo(rng: np.random.Generator, size: Tuple[int, int]) -> Image.Image:
    """A photo-like RGB picture: smooth colour gradients, a few blurred
    shapes and sensor-like noise (JPEG files of realistic size)."""
    w, h = size
    coarse = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    img = Image.fromarray(coarse).resize((w, h), Image.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 8))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1 = x0 + int(rng.integers(20, w // 2))
        y1 = y0 + int(rng.integers(20, h // 2))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(
            (x0, y0, x1, y1), fill=fill)
    img = img.filter(ImageFilter.GaussianBlur(1.5))
    noise = rng.normal(0, 8, (h, w, 3))
    pixels = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255)
    return Image.fromarray(pixels.astype(np.uint8))


def write_folder_dataset(root: str, classnames: Sequence[str], num: int,
                         size: Tuple[int, int] = (500, 375), seed: int = 0,
                         quality: int = 90) -> List[int]:
    """Write ``root/label_cn.txt`` and ``root/test/<class>/<i>.jpg`` (the
    layout of ``ZeroShotImageFolder`` and of torchvision's ImageFolder used
    by the official script); existing images are kept.

    Returns:
        list[int]: The label of every image, in file order.
    """
    rng = np.random.default_rng(seed)
    with open(osp.join(_made(root), 'label_cn.txt'), 'w',
              encoding='utf-8') as f:
        f.write(''.join(f'{c}\n' for c in classnames))
    labels = class_labels(num, len(classnames))
    for i, label in enumerate(labels):
        folder = _made(osp.join(root, 'test', f'{label:03d}'))
        path = osp.join(folder, f'{i:06d}.jpg')
        picture = photo(rng, size)
        if not osp.exists(path):
            picture.save(path, quality=quality)
    return labels


def write_cifar_dataset(root: str, folder_root: str, classnames: Sequence[str],
                        num: int, seed: int = 0) -> List[int]:
    """The same kind of pictures at 32x32: ``root/cifar-100-python/{test,
    meta}`` (the class names of ``classnames`` only) for mmcnclip's CIFAR100
    and the identical pixels as PNG files in
    ``folder_root`` (``label_cn.txt`` + ``test/<class>/``) for the official
    script.

    Returns:
        list[int]: The labels, in file order.
    """
    rng = np.random.default_rng(seed)
    labels = class_labels(num, len(classnames))
    pics = [photo(rng, (64, 64)).resize((32, 32), Image.BICUBIC)
            for _ in labels]
    folder = _made(osp.join(root, 'cifar-100-python'))
    data = np.stack([np.asarray(p).transpose(2, 0, 1).reshape(-1)
                     for p in pics])
    test = {'filenames': [f'{i:06d}.png' for i in range(num)],
            'fine_labels': labels, 'coarse_labels': [x // 5 for x in labels],
            'data': data, 'batch_label': 'testing batch 1 of 1'}
    meta = {'fine_label_names': list(classnames),
            'coarse_label_names': [f'g{i}' for i in range(20)]}
    for name, obj in (('test', test), ('meta', meta)):
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump(obj, f, protocol=2)
    with open(osp.join(_made(folder_root), 'label_cn.txt'), 'w',
              encoding='utf-8') as f:
        f.write(''.join(f'{c}\n' for c in classnames))
    for i, (label, pic) in enumerate(zip(labels, pics)):
        pic.save(osp.join(_made(osp.join(folder_root, 'test',
                                         f'{label:03d}')), f'{i:06d}.png'))
    return labels


def class_labels(num: int, num_classes: int) -> List[int]:
    """Sorted labels of ``num`` images spread over all classes (every class
    folder must hold an image)."""
    if num < num_classes:
        raise ValueError(f'{num} images cannot cover {num_classes} classes')
    return sorted(i % num_classes for i in range(num))


def _made(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path
