"""Images given by path to the inferencer and the demo are decoded like the
dataset pipeline (LoadImagePIL: PIL, no EXIF transpose), not by OpenCV."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from PIL import Image

from conftest import REPO
from mmcnclip.apis import ImageClassificationInferencer
from mmcnclip.datasets.transforms.loading import ImageDecodeError
from mmcnclip.registry import MODELS, TRANSFORMS

CONFIG = osp.join(REPO, 'configs', 'shapes', 'cn-clip_tiny_shapes_zeroshot.py')
LABELS = ['圆形', '方形', '三角形']


def pattern(h=40, w=56, seed=0):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((w, h), Image.BILINEAR))


def write_probes(folder):
    """The image kinds where OpenCV and PIL decode differently."""
    rgb = Image.fromarray(pattern())
    paths = {}
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees
    paths['exif6'] = folder / 'exif6.jpg'
    rgb.save(paths['exif6'], exif=exif, quality=95)
    paths['grey16'] = folder / 'grey16.png'
    grey = (pattern()[..., 0].astype(np.uint16) * 257)
    Image.fromarray(grey).save(paths['grey16'])
    paths['palette'] = folder / 'palette.png'
    pal = rgb.convert('P', palette=Image.ADAPTIVE, colors=16)
    pal.save(paths['palette'], transparency=3)
    paths['cmyk'] = folder / 'cmyk.jpg'
    rgb.convert('CMYK').save(paths['cmyk'], quality=95)
    paths['gif'] = folder / 'anim.gif'
    rgb.save(paths['gif'], save_all=True,
             append_images=[Image.fromarray(pattern(seed=1))])
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('decoding')
    cfg = Config.fromfile(CONFIG)
    cfg.model.classes = LABELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    ckpt = tmp / 'tiny.pth'
    torch.save({'state_dict': model.state_dict()}, ckpt)
    pipeline = Compose([TRANSFORMS.build(t)
                        for t in cfg.test_dataloader.dataset.pipeline])
    return dict(probes=write_probes(tmp), ckpt=str(ckpt), model=model,
                pipeline=pipeline)


def dataset_scores(setup, paths):
    """Scores of the dataset pipeline (``LoadImagePIL`` from the file)."""
    batch = default_collate([setup['pipeline'](dict(img_path=p))
                             for p in paths])
    with torch.no_grad():
        out = setup['model'].test_step(batch)
    return np.stack([o.pred_score.numpy() for o in out])


def test_inferencer_decodes_files_like_the_dataset(setup):
    from mmpretrain import ImageClassificationInferencer as Mmpretrain
    paths = list(setup['probes'].values())
    ours = ImageClassificationInferencer(
        CONFIG, pretrained=setup['ckpt'], classes=LABELS,
        text_prototype=LABELS)
    theirs = Mmpretrain(CONFIG, pretrained=setup['ckpt'], classes=LABELS,
                        text_prototype=LABELS)
    want = next(iter(ours.preprocess(paths, batch_size=len(paths))))
    expected = default_collate([setup['pipeline'](dict(img_path=p))
                                for p in paths])
    assert torch.equal(want['inputs'], expected['inputs'])
    # The probe: OpenCV (mmpretrain's inferencer) rotates the EXIF photo.
    cv2_exif = next(iter(theirs.preprocess([setup['probes']['exif6']])))
    assert cv2_exif['inputs'].shape == expected['inputs'][:1].shape
    assert not torch.equal(cv2_exif['inputs'], expected['inputs'][:1])

    results = ours(paths, batch_size=2)
    scores = np.stack([r['pred_scores'] for r in results])
    np.testing.assert_allclose(scores, dataset_scores(setup, paths),
                               atol=1e-6)
    # Arrays are still taken as BGR, like mmpretrain's inferencer does.
    bgr = pattern()[..., ::-1].copy()
    np.testing.assert_allclose(ours(bgr)[0]['pred_scores'],
                               theirs(bgr)[0]['pred_scores'], atol=1e-6)


def test_inferencer_names_an_undecodable_file(setup, tmp_path):
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    inferencer = ImageClassificationInferencer(
        CONFIG, pretrained=setup['ckpt'], classes=LABELS,
        text_prototype=LABELS)
    with pytest.raises(ImageDecodeError, match=f'Cannot decode image {empty}'):
        inferencer(str(empty))


def test_demo_decodes_files_like_the_dataset(setup):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'zero_shot_demo', osp.join(REPO, 'demo', 'zero_shot_demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    paths = list(setup['probes'].values())
    results = demo.main([*paths, '--labels', *LABELS, '--config', CONFIG,
                         '--checkpoint', setup['ckpt'], '--templates',
                         'single'])
    scores = np.stack([r['pred_scores'] for r in results])
    setup['model'].head.templates = 'single'
    np.testing.assert_allclose(scores, dataset_scores(setup, paths),
                               atol=1e-6)
