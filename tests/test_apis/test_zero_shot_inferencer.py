"""mmpretrain's inferencer and get_model resolve mmcnclip's zero-shot names."""

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import PromptCounter, official_zero_shot_scores, smooth_image
from mmcnclip.model_index import hook_model_hub
from mmcnclip.models.inference import is_prepared

CLASSES = ['鸟', '狗', '猫', '蛇']


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """The test machine's cores are shared: oversubscribed intra-op threads
    make convolutions 10x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def official_scores(official, image_path, classnames, templates):
    """Official zero-shot scores of one image file."""
    return official_zero_shot_scores(official, [Image.open(image_path)],
                                     classnames, templates)[0]


def check_inferencer(ckpt, official, tmp_path, **kwargs):
    from mmpretrain import ImageClassificationInferencer
    hook_model_hub()
    image = smooth_image(tmp_path / 'image.jpg', 0)

    inferencer = ImageClassificationInferencer(
        'cn-clip_resnet50_zeroshot-cls_cifar100', pretrained=ckpt,
        classes=CLASSES, **kwargs)
    head = inferencer.model.head
    counter = PromptCounter(inferencer.model)
    assert type(inferencer.model).__name__ == 'ZeroShotClassifier'
    num_templates = len(head.templates)
    assert not is_prepared(inferencer.model)
    result = inferencer(image)[0]
    assert is_prepared(inferencer.model)  # fast by default
    assert result['pred_class'] in CLASSES
    assert result['pred_class'] == CLASSES[int(np.argmax(
        result['pred_scores']))]
    assert counter.count == 4 * num_templates

    # The scores are those of the official procedure on the same image
    # (PIL loading from the file, PIL bicubic resize, same templates).
    ref = official_scores(official, image, CLASSES, head.templates)
    assert np.abs(result['pred_scores'] - ref.numpy()).max() < 1e-5
    assert ref.max() - ref.min() > 1e-3  # not a vacuous comparison

    # Unchanged classes: no re-encoding; changed classes: rebuilt.
    inferencer(smooth_image(tmp_path / 'other.jpg', 1))
    assert counter.count == 4 * num_templates
    inferencer.classes = ['鸟', '狗']
    result = inferencer(image)[0]
    assert counter.count == 6 * num_templates
    assert result['pred_scores'].shape == (2, )
    assert result['pred_class'] in ['鸟', '狗']
    return num_templates


def test_inferencer_by_name(rn50_ckpt, tmp_path):
    """The documented call, with three templates to keep it fast."""
    templates = ['{}的照片', '一张{}的图片。', '“{}”']
    assert check_inferencer(*rn50_ckpt, tmp_path,
                            text_prompt=templates) == 3


@pytest.mark.slow
def test_inferencer_default_templates(rn50_ckpt, tmp_path):
    """Exactly the documented call: the config's 183 'openai' templates."""
    assert check_inferencer(*rn50_ckpt, tmp_path) == 183


def test_classes_and_text_prototype(rn50_ckpt, tmp_path):
    """get_model(classes=) + inference_model; text_prototype for prompts that
    differ from the display names; different lengths name both."""
    from mmpretrain import get_model, inference_model
    hook_model_hub()
    ckpt, official = rn50_ckpt
    image = smooth_image(tmp_path / 'image.jpg', 0)
    model = get_model('cn-clip_resnet50_zeroshot-cls_cifar100',
                      pretrained=ckpt, classes=['鸟', '狗'],
                      text_prompt='single')
    result = inference_model(model, image)
    assert result['pred_scores'].shape == (2, )
    assert result['pred_class'] == ['鸟', '狗'][result['pred_label']]
    ref = official_scores(official, image, ['鸟', '狗'], ['{}的图片'])
    assert np.abs(result['pred_scores'] - ref.numpy()).max() < 1e-5

    prompts = ['小鸟', '小狗']
    model = get_model('cn-clip_resnet50_zeroshot-cls_cifar100',
                      pretrained=ckpt, classes=['鸟', '狗'],
                      text_prompt='single', text_prototype=prompts)
    result = inference_model(model, image)
    assert result['pred_class'] == ['鸟', '狗'][result['pred_label']]
    ref = official_scores(official, image, prompts, ['{}的图片'])
    assert np.abs(result['pred_scores'] - ref.numpy()).max() < 1e-5

    model = get_model('cn-clip_resnet50_zeroshot-cls_cifar100',
                      pretrained=ckpt, classes=['鸟', '狗', '猫'],
                      text_prompt='single', text_prototype=prompts)
    with pytest.raises(ValueError, match='3 class names .* but 2 '
                       'text_prototype names'):
        inference_model(model, image)


def test_list_and_get_model(rn50_ckpt):
    from mmpretrain import get_model, list_models
    from mmpretrain.apis import ModelHub
    hook_model_hub()
    names = list_models('cn-clip*')
    assert 'cn-clip_vit-large-p14-336px_zeroshot-cls_imagenet-cn' in names
    assert not any(n.startswith('mmpretrain:') for n in names)
    ours = ModelHub.get('cn-clip_resnet50_zeroshot-cls_cifar100')
    assert ours.config.model.type == 'mmcnclip.ZeroShotClassifier'
    theirs = ModelHub.get('mmpretrain:cn-clip_resnet50_zeroshot-cls_cifar100')
    assert theirs.config.model.type == 'ChineseCLIP'

    model = get_model('cn-clip_resnet50_zeroshot-cls_cifar10',
                      pretrained=rn50_ckpt[0], text_prompt='single')
    assert model.head.classnames[0] == '飞机'
    assert torch.equal(model.logit_scale, rn50_ckpt[1].logit_scale)
