"""Measure mmcnclip's hand-written pieces against the library alternatives.

For each of the tokenizer, the image loading/resize pair, the zero-shot
image folder and the BERT text tower, compare against ``cn_clip`` (and
torchvision's ``ImageFolder``, the official evaluation's) what a
well-kept library gives: ids/pixels/samples, and speed, in the same run.
The docstrings of the kept classes quote these numbers.

Usage: ``python tools/misc/library_alternatives.py [--quick]`` (``--quick``:
a few hundred strings and tiny models, for the smoke test).
"""
import argparse
import copy
import os
import os.path as osp
import random
import shutil
import tempfile
import time

import numpy as np
import torch


def best_time(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def random_strings(rng: random.Random, count: int) -> list:
    """Random Unicode strings (ASCII, CJK, punctuation, full range)."""
    pools = [(0x20, 0x7e), (0x4e00, 0x9fff), (0x3000, 0x303f),
             (0xff00, 0xffef), (0x80, 0x24f), (0x1f300, 0x1faff),
             (0x0, 0x10ffff)]
    out = []
    for _ in range(count):
        out.append(''.join(
            chr(rng.randint(*rng.choice(pools)))
            for _ in range(rng.randint(0, 40))))
    return out


def tokenizer(quick: bool, tmp: str) -> None:
    from cn_clip.clip import tokenize as official
    from transformers import BertTokenizerFast

    from mmcnclip.text import ChineseTokenizer, get_classnames, get_templates
    from mmcnclip.text.tokenizer import DEFAULT_VOCAB_FILE
    shutil.copy(DEFAULT_VOCAB_FILE, osp.join(tmp, 'vocab.txt'))
    hf = BertTokenizerFast(osp.join(tmp, 'vocab.txt'), do_lower_case=True)
    hf.backend_tokenizer.model.max_input_chars_per_word = 200
    classes = get_classnames('imagenet')[:10 if quick else 100]
    prompts = [t.format(c) for t in get_templates('openai') for c in classes]
    texts = prompts + random_strings(random.Random(0), 300 if quick else 3000)
    texts += ['[UNK] [CLS] 猫', 'ΑΣ ΟΔΟΣ', 'Ę Õ Ç', 'a\ud800b']

    def hf_ids(batch):
        return hf(batch, max_length=52, truncation=True,
                  padding='max_length', return_tensors='pt')['input_ids']

    ours = ChineseTokenizer()
    differ = {'ours': 0, 'transformers': 0}
    failed = 0
    for text in texts:
        ref = official([text])
        differ['ours'] += int(not torch.equal(ours([text]), ref))
        try:
            differ['transformers'] += int(not torch.equal(hf_ids([text]),
                                                          ref))
        except TypeError:  # lone surrogates
            failed += 1
    print(f'tokenizer: {len(texts)} strings; ids differing from cn_clip: '
          f'ours {differ["ours"]}, transformers BertTokenizerFast '
          f'{differ["transformers"]} (+{failed} raised)')
    batches = [prompts[i:i + 1000] for i in range(0, len(prompts), 1000)]
    for name, fn in (('cn_clip', official), ('ours', ChineseTokenizer()),
                     ('transformers', hf_ids)):
        first = best_time(lambda: [fn(b) for b in batches], 1)
        best = min(first, best_time(lambda: [fn(b) for b in batches], 2))
        print(f'tokenizer: {len(prompts)} prompts, {name} first {first:.2f} '
              f's, best {best:.2f} s')


def images(quick: bool, tmp: str) -> None:
    from cn_clip.clip import image_transform
    from mmcv.transforms import LoadImageFromFile, Resize
    from PIL import Image

    from mmcnclip.datasets.transforms import LoadImagePIL, PILResize
    from mmcnclip.models.data_preprocessor import CLIP_MEAN, CLIP_STD
    rng = np.random.default_rng(0)
    base = np.clip(np.cumsum(rng.normal(size=(300, 400, 4)), axis=1) * 8 +
                   128, 0, 255).astype(np.uint8)
    rgb = Image.fromarray(base[..., :3], 'RGB')
    rgba = base.copy()
    rgba[..., 3] = np.where(rng.random((300, 400)) > 0.5, 255, 0)
    files = {'RGB jpg': (rgb, 'a.jpg'), 'RGBA png': (
        Image.fromarray(rgba, 'RGBA'), 'b.png'), 'P png': (
            rgb.quantize(64), 'c.png'), 'L png': (rgb.convert('L'), 'd.png')}
    official = image_transform(224)
    mean, std = np.array(CLIP_MEAN), np.array(CLIP_STD)
    ours = (LoadImagePIL(), PILResize(224))
    mmcv = (LoadImageFromFile(imdecode_backend='pillow'),
            Resize(scale=(224, 224), keep_ratio=False,
                   interpolation='bicubic', backend='pillow'))

    def run(pair, path, bgr):
        img = pair[1](pair[0](dict(img_path=path)))['img']
        img = img[..., ::-1] if bgr else img
        return torch.from_numpy(
            ((img / 255. - mean) / std).transpose(2, 0, 1).copy()).float()

    for name, (img, file) in files.items():
        path = osp.join(tmp, file)
        img.save(path)
        ref = official(Image.open(path))
        diff = [(run(p, path, bgr) - ref).abs().max().item()
                for p, bgr in ((ours, False), (mmcv, True))]
        print(f'images: {name:8s} max |diff| to cn_clip: ours {diff[0]:.1e}'
              f', mmcv LoadImageFromFile+Resize {diff[1]:.1e}')
    path = osp.join(tmp, 'a.jpg')
    n = 20 if quick else 200
    for name, fn in (('cn_clip', lambda: official(Image.open(path))),
                     ('ours', lambda: run(ours, path, False)),
                     ('mmcv', lambda: run(mmcv, path, True))):
        ms = best_time(lambda: [fn() for _ in range(n)], 3) / n * 1e3
        print(f'images: 400x300 jpg -> 224, {name} {ms:.1f} ms/image')


def image_folder(tmp: str) -> None:
    from mmpretrain.datasets import CustomDataset
    from PIL import Image
    from torchvision.datasets import ImageFolder

    from mmcnclip.datasets import ZeroShotImageFolder
    root = osp.join(tmp, 'folder')
    for cls in ('000', '001'):
        os.makedirs(osp.join(root, 'test', cls, 'sub'))
        for file in ('b.jpg', 'sub/a.jpg', 'c.webp', 'd.tiff'):
            Image.new('RGB', (4, 4)).save(osp.join(root, 'test', cls, file))
    with open(osp.join(root, 'label_cn.txt'), 'w', encoding='utf-8') as f:
        f.write('猫\n狗\n')

    def samples(ds):
        return [(osp.relpath(ds.get_data_info(i)['img_path'], root),
                 int(ds.get_data_info(i)['gt_label']))
                for i in range(len(ds))]

    official = [(osp.relpath(p, root), t)
                for p, t in ImageFolder(osp.join(root, 'test')).samples]
    custom = samples(CustomDataset(
        data_root=root, data_prefix='test',
        classes=osp.join(root, 'label_cn.txt')))
    print(f'image folder: torchvision ImageFolder {official}')
    print(f'image folder: ZeroShotImageFolder equal: '
          f'{samples(ZeroShotImageFolder(root)) == official}; mmpretrain '
          f'CustomDataset equal: {custom == official} ({custom})')


def text_tower(quick: bool) -> None:
    from transformers import BertConfig, BertModel

    from mmcnclip.models.backbones import BertTextEncoder
    from mmcnclip.models.inference import prepare_for_inference
    from mmcnclip.text import get_templates, tokenize
    arch = dict(embed_dims=64, num_layers=2, num_heads=2,
                feedforward_channels=128) if quick else 'base'
    torch.manual_seed(0)
    ours = BertTextEncoder(arch=arch).eval()
    cfg = ours.arch_settings
    hf = BertModel(BertConfig(
        vocab_size=21128, hidden_size=cfg['embed_dims'],
        num_hidden_layers=cfg['num_layers'],
        num_attention_heads=cfg['num_heads'],
        intermediate_size=cfg['feedforward_channels']),
        add_pooling_layer=False).eval()
    prepared = prepare_for_inference(copy.deepcopy(ours))
    ids = tokenize([t.format('猫') for t in get_templates('openai')][:32])
    ids = ids[:, :int((ids != 0).sum(1).max())]
    mask = (ids != 0).long()
    with torch.no_grad():
        for name, fn in (
                ('transformers BertModel',
                 lambda: hf(input_ids=ids, attention_mask=mask)),
                ('ours', lambda: ours(ids)),
                ('ours prepared', lambda: prepared(ids))):
            fn()
            ms = best_time(fn, 3 if quick else 5) * 1e3
            print(f'text tower: {tuple(ids.shape)} ids, {name} {ms:.0f} ms')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true',
                        help='small inputs and models (smoke test)')
    args = parser.parse_args()
    torch.set_num_threads(1)
    tmp = tempfile.mkdtemp()
    try:
        tokenizer(args.quick, tmp)
        images(args.quick, tmp)
        image_folder(tmp)
        text_tower(args.quick)
    finally:
        shutil.rmtree(tmp)


if __name__ == '__main__':
    main()
