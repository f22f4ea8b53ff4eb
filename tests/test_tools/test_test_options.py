"""tools/test.py the user's way (subprocess) on the tiny shapes model with
random weights: ``--tta``, the model's classes versus the dataset's."""
import os.path as osp
import pickle
import sys

import pytest
import torch
from helpers.processes import REPO, run, run_tool
from mmengine.config import Config

ZS_CFG = osp.join(REPO, 'configs', 'shapes', 'cn-clip_tiny_shapes_zeroshot.py')
RET_CFG = osp.join(REPO, 'configs', 'shapes', 'cn-clip_tiny_shapes.py')


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    """Shapes data (12 zero-shot test images) and a random tiny
    checkpoint."""
    import mmcnclip  # noqa: F401
    from mmcnclip.registry import MODELS
    root = tmp_path_factory.mktemp('shapes')
    run_tool(osp.join('data', 'make_shapes_dataset.py'), str(root / 'data'),
             '--train', '4', '--test', '12', '--seed', '0')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(RET_CFG).model)
    ckpt = root / 'tiny.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    return root, str(ckpt)


def zero_shot(shapes, config, *args):
    """Run tools/test.py on a zero-shot config; return the dumped scores."""
    root, ckpt = shapes
    out = root / f'preds_{len(list(root.glob("preds_*")))}.pkl'
    run_tool('test.py', config, ckpt, '--work-dir', str(root / 'work'),
             '--out', str(out), *args, '--cfg-options',
             f'test_dataloader.dataset.data_root={root}/data/zeroshot',
             f'model.text_prototype={root}/data/zeroshot/label_cn.txt')
    with open(out, 'rb') as f:
        return torch.stack([p['pred_score'] for p in pickle.load(f)])


def test_tta_averages_image_and_flip(shapes):
    plain = zero_shot(shapes, ZS_CFG)
    tta = zero_shot(shapes, ZS_CFG, '--tta')
    flipped_cfg = shapes[0] / 'flipped.py'
    flipped_cfg.write_text(
        f'_base_ = [{ZS_CFG!r}]\n'
        'test_dataloader = dict(dataset=dict(pipeline=[\n'
        "    dict(type='mmcnclip.LoadImagePIL'),\n"
        "    dict(type='mmcnclip.PILResize', scale=32),\n"
        "    dict(type='RandomFlip', prob=1.),\n"
        "    dict(type='PackInputs')]))\n")
    flipped = zero_shot(shapes, str(flipped_cfg))
    assert (plain - flipped).abs().max() > 1e-4  # not a vacuous check
    torch.testing.assert_close(tta, (plain + flipped) / 2)


def test_tta_with_prepare_prepares_the_wrapped_model_once(shapes):
    """The hook prepares the model inside the TTA wrapper (a bf16 run
    crashed when the wrapped model prepared itself again in fp32)."""
    tta = zero_shot(shapes, ZS_CFG, '--tta')
    torch.testing.assert_close(zero_shot(shapes, ZS_CFG, '--tta', '--prepare',
                                         'fp32'), tta)
    bf16 = zero_shot(shapes, ZS_CFG, '--tta', '--prepare', 'bf16')
    torch.testing.assert_close(bf16.float(), tta, rtol=0, atol=2e-2)


def failing_test_py(*args) -> str:
    """Run tools/test.py expecting failure; return its stderr."""
    out = run([sys.executable, osp.join(REPO, 'tools', 'test.py'), *args],
              check=False)
    assert out.returncode != 0, out.stdout[-2000:]
    return out.stderr


def test_tta_on_retrieval_config_is_a_clear_error(shapes):
    err = failing_test_py(RET_CFG, shapes[1], '--tta')
    assert 'not a classifier' in err, err[-2000:]


def test_model_and_dataset_classes_agree(shapes):
    root, ckpt = shapes
    data = f'test_dataloader.dataset.data_root={root}/data/zeroshot'
    err = failing_test_py(ZS_CFG, ckpt, '--work-dir', str(root / 'work'),
                          '--cfg-options', data, 'model.classes=[猫,狗,鸟]')
    assert 'has 3 classes (猫, 狗, 鸟) but the test dataset ' \
        '(ZeroShotImageFolder) has 12' in err, err[-2000:]

    out = run_tool('test.py', ZS_CFG, ckpt, '--work-dir', str(root / 'work'),
                   '--cfg-options', data, 'model.classes=None')
    log = open(sorted((root / 'work').glob('*/*.log'))[-1],
               encoding='utf-8').read()
    assert 'The model takes the 12 classes of the test dataset' in log, \
        out[-2000:]


def test_topk_beyond_the_classes_is_a_clear_error(shapes):
    root, ckpt = shapes
    err = failing_test_py(
        ZS_CFG, ckpt, '--work-dir', str(root / 'work'), '--cfg-options',
        f'test_dataloader.dataset.data_root={root}/data/zeroshot',
        'test_evaluator.topk=(1,5,20)')
    assert 'test_evaluator asks for top-20 accuracy (topk=(1, 5, 20)) but ' \
        'the test dataset (ZeroShotImageFolder) has only 12 classes; pass ' \
        '--cfg-options "test_evaluator.topk=(1,5)"' in err, err[-2000:]


def test_show_dir_pictures(shapes):
    """Zero-shot: one picture per image with top-5 Chinese labels;
    retrieval: text -> images and image -> texts pictures."""
    from PIL import Image
    root, ckpt = shapes
    zs_dir, ret_dir = root / 'pics_zs', root / 'pics_ret'
    zero_shot(shapes, ZS_CFG, '--show-dir', str(zs_dir))
    pictures = sorted(zs_dir.glob('*.png'))
    assert len(pictures) == 12
    assert Image.open(pictures[0]).size[0] > 300  # image + label panel
    run_tool('test.py', RET_CFG, ckpt, '--work-dir', str(root / 'work'),
             '--show-dir', str(ret_dir), '--interval', '4', '--cfg-options',
             f'test_dataloader.dataset.data_root={root}/data')
    assert len(list((ret_dir / 'text_to_image').glob('*.png'))) == 3
    assert len(list((ret_dir / 'image_to_text').glob('*.png'))) == 3


def test_cjk_font_draws_chinese():
    """Two different Chinese characters render differently (a font without
    them draws the same empty box twice)."""
    from PIL import ImageFont

    from mmcnclip.visualization import find_cjk_font
    font = ImageFont.truetype(find_cjk_font(), 24)
    assert bytes(font.getmask('圆')) != bytes(font.getmask('形'))
