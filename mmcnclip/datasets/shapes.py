"""Write the offline "shapes" image-text dataset in Chinese-CLIP formats.

Coloured geometric shapes on noisy light backgrounds with Chinese captions
(e.g. "一个红色的圆形"); classes are the colour x shape combinations
(12 classes, chance 8.3%). Output (deterministic for a given seed)::

    OUT_DIR/
    ├── train_texts.jsonl, train_imgs.tsv   # one caption per image
    ├── valid_texts.jsonl, valid_imgs.tsv   # one text per class -> images
    └── zeroshot/label_cn.txt, zeroshot/test/000/*.png ...  # same images

Written by ``python tools/data/make_shapes_dataset.py OUT_DIR --train 2000
--test 240 --seed 0``.
"""
import base64
import io
import json
import os
import os.path as osp
import random

from PIL import Image, ImageDraw

COLOURS = {'红色': (220, 30, 30), '绿色': (30, 160, 40),
           '蓝色': (30, 60, 220), '黄色': (235, 200, 20)}
SHAPES = ('圆形', '正方形', '三角形')
TEMPLATES = ('一个{c}的{s}', '{c}{s}', '一张{c}{s}的图片', '图中有一个{c}的{s}',
             '{c}的{s}', '画着{c}{s}的图')
CLASSES = [(c, s) for s in SHAPES for c in COLOURS]


def class_name(index: int) -> str:
    """Chinese name of class ``index``, e.g. ``红色的圆形``."""
    colour, shape = CLASSES[index]
    return f'{colour}的{shape}'


def draw_shape(rng: random.Random, cls: int, size: int = 32) -> Image.Image:
    """One image of class ``cls`` with random size, position, background."""
    colour, shape = CLASSES[cls]
    bg = [rng.randint(200, 255) for _ in range(3)]
    img = Image.new('RGB', (size, size), tuple(bg))
    pixels = img.load()
    for y in range(size):
        for x in range(size):
            pixels[x, y] = tuple(min(255, max(0, v + rng.randint(-12, 12)))
                                 for v in bg)
    side = rng.randint(size * 2 // 5, size * 3 // 4)
    x0, y0 = rng.randint(0, size - side), rng.randint(0, size - side)
    box = (x0, y0, x0 + side - 1, y0 + side - 1)
    fill = tuple(min(255, max(0, v + rng.randint(-25, 25)))
                 for v in COLOURS[colour])
    draw = ImageDraw.Draw(img)
    if shape == '圆形':
        draw.ellipse(box, fill=fill)
    elif shape == '正方形':
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon([(x0 + side // 2, y0), (x0, y0 + side - 1),
                      (x0 + side - 1, y0 + side - 1)], fill=fill)
    return img


def png_base64(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format='PNG')
    return base64.urlsafe_b64encode(buf.getvalue()).decode('ascii')


def write_split(out_dir, split, images, texts):
    with open(osp.join(out_dir, f'{split}_imgs.tsv'), 'w') as f:
        for image_id, img in images:
            f.write(f'{image_id}\t{png_base64(img)}\n')
    with open(osp.join(out_dir, f'{split}_texts.jsonl'), 'w',
              encoding='utf-8') as f:
        for text in texts:
            f.write(json.dumps(text, ensure_ascii=False) + '\n')


def make_dataset(out_dir: str, num_train: int = 2000, num_test: int = 240,
                 seed: int = 0, size: int = 32) -> None:
    """Write the dataset (see the module docstring).

    Args:
        out_dir (str): Output folder (created).
        num_train (int): Training images (one caption each). Defaults to
            2000.
        num_test (int): Held-out images, balanced over the classes.
            Defaults to 240.
        seed (int): Random seed. Defaults to 0.
        size (int): Image side in pixels. Defaults to 32.
    """
    if num_train < 1 or num_test < len(CLASSES):
        raise ValueError(f'need num_train (--train) >= 1 and num_test '
                         f'(--test) >= {len(CLASSES)}')
    rng = random.Random(seed)
    os.makedirs(out_dir, exist_ok=True)
    train_imgs, train_txts = [], []
    for i in range(num_train):
        cls = rng.randrange(len(CLASSES))
        colour, shape = CLASSES[cls]
        train_imgs.append((i, draw_shape(rng, cls, size)))
        template = rng.choice(TEMPLATES)
        train_txts.append(dict(text_id=i, text=template.format(c=colour,
                                                               s=shape),
                               image_ids=[i]))
    write_split(out_dir, 'train', train_imgs, train_txts)

    test_imgs, by_class = [], {c: [] for c in range(len(CLASSES))}
    zs_root = osp.join(out_dir, 'zeroshot')
    for j in range(num_test):
        cls, image_id = j % len(CLASSES), 100000 + j
        img = draw_shape(rng, cls, size)
        test_imgs.append((image_id, img))
        by_class[cls].append(image_id)
        folder = osp.join(zs_root, 'test', f'{cls:03d}')
        os.makedirs(folder, exist_ok=True)
        img.save(osp.join(folder, f'{image_id}.png'))
    test_txts = [dict(text_id=200000 + c, text='一个' + class_name(c),
                      image_ids=ids) for c, ids in by_class.items()]
    write_split(out_dir, 'valid', test_imgs, test_txts)
    with open(osp.join(zs_root, 'label_cn.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(class_name(c) for c in range(len(CLASSES))) + '\n')
