"""LoadImagePIL + PILResize reproduce cn_clip's image_transform exactly."""
import numpy as np
import pytest
import torch
from PIL import Image

from mmcnclip.datasets.transforms import (LoadImagePIL, PILResize,
                                          bgr_array_to_pil)
from mmcnclip.datasets.transforms.loading import ImageDecodeError
from mmcnclip.models.data_preprocessor import (CLIP_MEAN, CLIP_STD,
                                               default_data_preprocessor)
from mmcnclip.registry import MODELS, TRANSFORMS

MEAN = torch.tensor(CLIP_MEAN).view(3, 1, 1)
STD = torch.tensor(CLIP_STD).view(3, 1, 1)


def _pattern(h, w, seed=0):
    """A smooth RGB uint8 image with distinct channels and some detail."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (h + w)], -1)
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(
        np.uint8)


def _write(tmp_path, mode):
    """Write a test image of PIL ``mode`` and return its path."""
    rgb = _pattern(37, 53)
    if mode == 'RGB':
        path = tmp_path / 'rgb.jpg'
        Image.fromarray(rgb).save(path, quality=90)
    elif mode == 'RGBA':
        path = tmp_path / 'rgba.png'
        alpha = np.linspace(0, 255, 37 * 53).reshape(37, 53).astype(np.uint8)
        Image.fromarray(np.dstack([rgb, alpha]), 'RGBA').save(path)
    elif mode == 'L':
        path = tmp_path / 'gray.png'
        Image.fromarray(rgb).convert('L').save(path)
    else:
        path = tmp_path / 'palette.png'
        Image.fromarray(rgb).convert('P', palette=Image.ADAPTIVE,
                                     colors=64).save(path)
    assert Image.open(path).mode == mode
    return str(path)


def _ours(path, scale):
    results = LoadImagePIL()(dict(img_path=path))
    return PILResize(scale)(results)


@pytest.mark.parametrize('mode', ['RGB', 'RGBA', 'L', 'P'])
@pytest.mark.parametrize('scale', [224, 40])
def test_matches_official_transform(tmp_path, mode, scale):
    clip_utils = pytest.importorskip('cn_clip.clip.utils')
    path = _write(tmp_path, mode)
    official = clip_utils.image_transform(scale)(Image.open(path))

    results = _ours(path, scale)
    img = results['img']
    assert img.dtype == np.uint8 and img.shape == (scale, scale, 3)
    assert results['img_shape'] == (scale, scale)
    assert results['ori_shape'] == (37, 53)
    assert results['scale_factor'] == (scale / 53, scale / 37)
    ours = (torch.from_numpy(img).permute(2, 0, 1) / 255 - MEAN) / STD
    torch.testing.assert_close(ours, official, atol=1e-6, rtol=0)

    # The OpenMMLab path: PackInputs + data preprocessor (to_rgb=False).
    packed = TRANSFORMS.build(dict(type='PackInputs'))(results)
    preprocessor = MODELS.build(
        default_data_preprocessor(None, 'ClsDataPreprocessor'))
    assert preprocessor.to_rgb is False
    batch = preprocessor(dict(inputs=[packed['inputs']],
                              data_samples=[packed['data_samples']]))
    torch.testing.assert_close(
        batch['inputs'][0], official, atol=1e-5, rtol=0)


def test_mode_is_kept_until_resize(tmp_path):
    """Converting before resizing changes RGBA/P pixels: we must not."""
    for mode in ('RGBA', 'P'):
        path = _write(tmp_path, mode)
        loaded = LoadImagePIL()(dict(img_path=path))['img']
        assert loaded.mode == mode
        early = Image.open(path).convert('RGB').resize((31, 31),
                                                       Image.BICUBIC)
        assert not np.array_equal(_ours(path, 31)['img'], np.asarray(early))
    # convert_rgb=True reproduces torchvision's ImageFolder loader.
    path = _write(tmp_path, 'P')
    loaded = LoadImagePIL(convert_rgb=True)(dict(img_path=path))['img']
    assert loaded.mode == 'RGB'
    np.testing.assert_array_equal(
        np.asarray(PILResize(31)(dict(img=loaded))['img']),
        np.asarray(Image.open(path).convert('RGB').resize(
            (31, 31), Image.BICUBIC)))


def test_disk_images_reach_model_as_rgb(tmp_path):
    """A red image file is red (channel 0) in the model input."""
    path = tmp_path / 'red.png'
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    Image.fromarray(red).save(path)
    for convert_rgb in (False, True):
        results = LoadImagePIL(convert_rgb)(dict(img_path=str(path)))
        packed = TRANSFORMS.build(dict(type='PackInputs'))(
            PILResize(8)(results))
        preprocessor = MODELS.build(
            default_data_preprocessor(None, 'ClsDataPreprocessor'))
        x = preprocessor(dict(inputs=[packed['inputs']]))['inputs'][0]
        expected = (torch.tensor([1., 0., 0.]).view(3, 1, 1) - MEAN) / STD
        torch.testing.assert_close(x, expected.expand(3, 8, 8))


def test_arrays_are_bgr(tmp_path):
    """ndarrays (mmcv.imread, inferencers, CIFAR) are read as BGR."""
    mmcv = pytest.importorskip('mmcv')
    path = _write(tmp_path, 'RGB')
    bgr = mmcv.imread(path)  # OpenMMLab convention
    from_file = _ours(path, 24)['img']
    # Through LoadImagePIL (no img_path) and directly through PILResize.
    via_load = PILResize(24)(LoadImagePIL()(dict(img=bgr)))['img']
    direct = PILResize(24)(dict(img=bgr.copy()))['img']
    np.testing.assert_array_equal(via_load, from_file)
    np.testing.assert_array_equal(direct, from_file)
    # A PIL image is kept as is.
    pil = Image.open(path)
    assert LoadImagePIL()(dict(img=pil))['img'] is pil


def test_bgr_array_to_pil_channels():
    bgra = np.zeros((2, 3, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 10, 200  # blue, alpha
    img = bgr_array_to_pil(bgra)
    assert img.mode == 'RGBA'
    assert np.asarray(img)[0, 0].tolist() == [0, 0, 10, 200]
    gray = bgr_array_to_pil(np.full((2, 3), 7, np.uint8))
    assert gray.mode == 'L' and gray.size == (3, 2)
    with pytest.raises(TypeError, match='uint8'):
        bgr_array_to_pil(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r'\(2, 2, 2\)'):
        bgr_array_to_pil(np.zeros((2, 2, 2), np.uint8))


def test_errors_name_the_file(tmp_path):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'not an image at all')
    with pytest.raises(OSError, match='broken.jpg'):
        LoadImagePIL()(dict(img_path=str(bad)))
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        LoadImagePIL()(dict(img_path=str(tmp_path / 'missing.jpg')))
    with pytest.raises(KeyError, match='img_path'):
        LoadImagePIL()(dict())
    with pytest.raises(KeyError, match='LoadImagePIL'):
        PILResize(8)(dict())
    with pytest.raises(ValueError, match='positive int'):
        PILResize(0)


@pytest.mark.parametrize('name, content, message', [
    ('empty.jpg', b'', 'cannot identify image file'),
    ('bomb.png', None, 'too large .*decompression bomb'),
    ('cut.png', 'truncated', 'truncated'),
])
def test_undecodable_images_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if content is None:  # 15000x15000 pixels in 27 KB
        Image.new('1', (15000, 15000)).save(path)
    elif content == 'truncated':
        Image.fromarray(_pattern(64, 64)).save(path)
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.write_bytes(content)
    with pytest.raises(ImageDecodeError,
                       match=f'Cannot decode image {path}: .*{message}'):
        LoadImagePIL()(dict(img_path=str(path)))


def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new('RGB', (6, 6), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / 'anim.gif'
    frames[0].save(path, save_all=True, append_images=frames[1:])
    out = PILResize(6)(LoadImagePIL()(dict(img_path=str(path))))['img']
    assert out[0, 0].tolist() == [255, 0, 0]


def test_registered_under_mmcnclip_scope():
    pipeline = [TRANSFORMS.build(dict(type='mmcnclip.LoadImagePIL')),
                TRANSFORMS.build(dict(type='mmcnclip.PILResize', scale=16))]
    assert [type(t) for t in pipeline] == [LoadImagePIL, PILResize]
    assert pipeline[1].scale == 16
