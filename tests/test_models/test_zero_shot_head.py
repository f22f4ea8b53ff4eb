"""ZeroShotClsHead: prototypes, caching, scores and loss (tiny towers)."""
import logging

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

import mmcnclip  # noqa: F401
from conftest import PromptCounter
from mmcnclip.registry import MODELS
from mmcnclip.text import get_classnames, get_templates, normalize_text

CLASSES = ['猫', '狗', '小鸟', '一辆红色的汽车']
TEMPLATES = ['{}的照片', '一张{}的图片。', '“{}”',
             '这是一张关于{}的很长很长的描述']


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """The test machine's cores are shared: oversubscribed intra-op threads
    make convolutions 10x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY_TEXT = dict(
    text_encoder=dict(
        type='mmcnclip.BertTextEncoder',
        arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                  feedforward_channels=64),
        drop_rate=0.1, attn_drop_rate=0.1),
    text_proj=dict(
        type='mmcnclip.CLIPProjection', in_channels=32, out_channels=16))
HEAD_KEYS = ('classnames', 'templates', 'train_templates', 'text_batch_size',
             'cache_file', 'score_scale', 'progress')


def tiny_model(**kwargs):
    """A tiny ZeroShotClassifier; head options go to its head, the others
    (``freeze_text``) to the model, which owns the text side."""
    head = dict(classnames=CLASSES, templates=TEMPLATES, text_batch_size=3,
                progress=False)
    head.update({k: kwargs.pop(k) for k in list(kwargs) if k in HEAD_KEYS})
    cfg = dict(
        type='mmcnclip.ZeroShotClassifier',
        backbone=dict(type='mmcnclip.CLIPVisionTransformer',
                      arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                                feedforward_channels=32),
                      img_size=32, patch_size=16),
        neck=dict(type='mmcnclip.CLIPProjection', in_channels=16,
                  out_channels=16),
        head=head, **TINY_TEXT, **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def reference_prototypes(model, classnames, templates):
    """The official per-class loop (52-padded prompts) on the same tower."""
    out = []
    with torch.no_grad():
        for name in classnames:
            texts = [normalize_text(t.format(name)) for t in templates]
            feats = model.encode_text(model.tokenize(texts))
            feats = feats / feats.norm(dim=-1, keepdim=True)
            mean = feats.mean(dim=0)
            out.append(mean / mean.norm())
    return torch.stack(out)


def test_prototypes_match_per_class_loop():
    model = tiny_model()
    head = model.head
    protos = head.get_prototypes()
    ref = reference_prototypes(model, CLASSES, TEMPLATES)
    assert protos.shape == (len(CLASSES), 16)
    assert (protos - ref).abs().max() < 1e-5
    assert torch.allclose(protos.norm(dim=-1), torch.ones(len(CLASSES)))
    # Non-vacuous: prototypes of different classes differ.
    assert (protos[0] - protos[1]).abs().max() > 1e-3
    # Curly quotes are normalised like cn_clip.eval.data._preprocess_text.
    assert normalize_text('“A”') == '"a"'


def test_head_owns_no_text_tower():
    model = tiny_model()
    assert not any(k.startswith('head.') for k in model.state_dict())
    assert model.head.logit_scale is model.logit_scale
    alone = MODELS.build(dict(type='mmcnclip.ZeroShotClsHead',
                              classnames=CLASSES, templates=TEMPLATES))
    with pytest.raises(RuntimeError, match='owns no text tower'):
        alone.get_prototypes()


def test_default_openai_templates_cifar100():
    model = tiny_model(classnames='cifar100', templates='openai',
                       text_batch_size=512)
    head, counter = model.head, PromptCounter(model)
    assert len(head.templates) == 183 and head.num_classes == 100
    protos = head.get_prototypes()
    assert counter.count == 100 * 183
    some = [0, 42, 99]
    ref = reference_prototypes(
        model, [head.classnames[i] for i in some], get_templates('openai'))
    assert (protos[some] - ref).abs().max() < 1e-5


def test_cache_rebuilds_only_on_change():
    model = tiny_model()
    head, counter = model.head, PromptCounter(model)
    first = head.get_prototypes()
    n = counter.count
    assert n == len(CLASSES) * len(TEMPLATES)
    assert head.get_prototypes() is first
    assert counter.count == n

    head.classnames = ['猫', '狗']
    assert head.get_prototypes().shape[0] == 2
    assert counter.count == n + 2 * len(TEMPLATES)
    n = counter.count

    head.templates = 'single'
    head.get_prototypes()
    assert counter.count == n + 2
    n = counter.count

    # Weight changes through every usual path rebuild the prototypes.
    other = tiny_model(classnames=['猫', '狗'], templates='single')
    torch.manual_seed(1)
    for p in other.text_encoder.parameters():
        p.data.normal_()
    before = head.get_prototypes().clone()
    model.load_state_dict(other.state_dict())
    after = head.get_prototypes()
    assert counter.count == n + 2
    assert (after - before).abs().max() > 1e-3
    assert torch.allclose(after, other.head.get_prototypes(), atol=1e-6)
    n = counter.count

    opt = torch.optim.SGD(model.text_encoder.parameters(), lr=0.1)
    model.text_encoder.layers[0].mlp.fc1.weight.grad = torch.ones_like(
        model.text_encoder.layers[0].mlp.fc1.weight)
    opt.step()
    head.get_prototypes()
    assert counter.count == n + 2
    n = counter.count

    model.text_proj.proj.data.mul_(2)  # bypasses the version counter
    head.get_prototypes()
    assert counter.count == n + 2
    n = counter.count

    model.double()
    assert head.get_prototypes().dtype == torch.float32
    assert counter.count == n + 2


def test_cache_file(tmp_path):
    path = str(tmp_path / 'protos.pth')
    model = tiny_model(cache_file=path)
    counter = PromptCounter(model)
    protos = model.head.get_prototypes()
    assert counter.count == len(CLASSES) * len(TEMPLATES)

    again = tiny_model(cache_file=path)  # same seed: same weights
    counter = PromptCounter(again)
    assert torch.equal(again.head.get_prototypes(), protos)
    assert counter.count == 0

    again.head.classnames = CLASSES[:2]  # another entry in the same file
    again.head.get_prototypes()
    assert counter.count == 2 * len(TEMPLATES)

    changed = tiny_model(cache_file=path)
    counter = PromptCounter(changed)
    with torch.no_grad():
        changed.text_proj.proj.add_(torch.randn_like(changed.text_proj.proj))
    new = changed.head.get_prototypes()
    assert counter.count == len(CLASSES) * len(TEMPLATES)
    assert (new - protos).abs().max() > 1e-3



def test_predict_scores():
    model = tiny_model()
    head = model.head
    img = torch.randn(5, 16)
    samples = head.predict((img, ), [DataSample() for _ in range(5)])
    protos = reference_prototypes(model, CLASSES, TEMPLATES)
    ref = (head.logit_scale.exp() * F.normalize(img, dim=-1)
           @ protos.t()).softmax(dim=-1)
    scores = torch.stack([s.pred_score for s in samples])
    assert (scores - ref).abs().max() < 1e-5
    assert [int(s.pred_label) for s in samples] == ref.argmax(-1).tolist()

    head.score_scale = 100.0
    scores = torch.stack([s.pred_score for s in head.predict((img, ))])
    ref100 = (100 * F.normalize(img, dim=-1) @ protos.t()).softmax(-1)
    assert (scores - ref100).abs().max() < 1e-5


def test_dimension_mismatch_is_reported():
    with pytest.raises(ValueError, match='does not match the text'):
        tiny_model().head((torch.randn(2, 8), ))


@pytest.mark.parametrize('freeze', [False, True])
def test_loss_and_gradients(freeze):
    model = tiny_model(freeze_text=freeze).train()
    head, counter = model.head, PromptCounter(model)
    img = torch.randn(4, 16, requires_grad=True)
    labels = [0, 1, 2, 1]
    samples = [DataSample().set_gt_label(i) for i in labels]
    losses = head.loss((img, ), samples)
    proto_templates = head.train_templates
    assert proto_templates == (tuple(TEMPLATES) if freeze else
                               tuple(get_templates('single')))
    losses['loss'].backward()
    grads = [p.grad for p in model.text_encoder.parameters()]
    if freeze:
        assert all(g is None for g in grads)
        assert not model.text_encoder.training  # dropout stays off
        # the eval prototypes of the same templates are reused
        n = counter.count
        model.eval()
        head.get_prototypes()
        assert counter.count == n
    else:
        assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert img.grad is not None and head.logit_scale.grad is not None
    model.eval()
    protos = reference_prototypes(model, CLASSES, proto_templates)
    logits = head.logit_scale.exp() * F.normalize(img, dim=-1) @ protos.t()
    if freeze:  # deterministic: equals the cross-entropy of eval features
        ref = F.cross_entropy(logits, torch.tensor(labels))
        assert abs(float(losses['loss'].detach()) - float(ref.detach())) < 1e-5


def test_bad_arguments():
    with pytest.raises(ValueError, match='Unknown class name set'):
        tiny_model(classnames='no-such-set')
    with pytest.raises(ValueError, match='exactly one'):
        tiny_model(templates=['{}{}'])
    with pytest.raises(ValueError, match='text_batch_size'):
        tiny_model(text_batch_size=0)
    assert get_classnames('cifar10')[0] == tiny_model(
        classnames='cifar10').head.classnames[0]


@pytest.mark.parametrize('classnames, expected', [
    (['猫', '猫', '狗'], ["Class names #0 '猫', #1 '猫' are the same after "
                        'text normalisation']),
    (['Cat', 'cat', '狗'], ["#0 'Cat', #1 'cat' are the same"]),
    (['猫', '\u200b', '狗'], ["Class names #1 '\\u200b' are empty after text "
                            'normalisation']),
])
def test_ambiguous_class_names_warn(classnames, expected, mm_log):
    head = tiny_model(classnames=classnames).head
    warnings = mm_log.messages(logging.WARNING)
    for text in expected:
        assert any(text in w for w in warnings), warnings
    mm_log.records.clear()
    head.classnames = ['猫', '狗']
    assert not mm_log.messages(logging.WARNING)
    head.classnames = 'imagenet'  # the official list names 太阳镜 twice
    assert not mm_log.messages(logging.WARNING)
