"""Feature extraction into a RetrievalIndex, chunked search, the two tools."""
import os.path as osp
import re
import sys

import pytest
import torch
from conftest import REPO
from helpers.processes import run, run_tool
from torch.utils._python_dispatch import TorchDispatchMode

from mmcnclip.apis import (RetrievalIndex, extract_features, image_to_text,
                           init_retrieval_model, text_to_image)
from mmcnclip.apis.index_identity import (OtherModelError, check_index_model,
                                          model_identity)
from mmcnclip.datasets.shapes import make_dataset
from mmcnclip.engine.runner_setup import load_config

CFG = osp.join(REPO, 'configs', 'shapes', 'cn-clip_tiny_shapes.py')

QUERY = '一个红色的圆形'


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Tiny shapes gallery (24 images, 12 texts), a random tiny ChineseCLIP
    saved as a checkpoint and its index extracted in process."""
    from mmengine.runner import Runner
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp('retrieval')
    make_dataset(str(root / 'shapes'), num_train=1, num_test=24, seed=0)
    cfg = load_config(CFG)
    cfg.test_dataloader.dataset.data_root = str(root / 'shapes')
    cfg.test_dataloader.batch_size = 10  # mixed image/text batches
    torch.manual_seed(0)
    model = init_retrieval_model(cfg, prepare=None)  # saved: unprepared
    ckpt = root / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    index = extract_features(model, Runner.build_dataloader(
        cfg.test_dataloader), progress=False)
    yield dict(root=root, cfg=cfg, model=model, ckpt=str(ckpt), index=index)
    torch.set_num_threads(threads)


def brute_force(queries, gallery, ids, k):
    scores, rows = (queries.float() @ gallery.float().t()).topk(k, dim=1)
    return scores, [[ids[r] for r in row] for row in rows.tolist()]


def test_extracted_features(setup):
    index, model = setup['index'], setup['model']
    assert index.image_ids == [100000 + i for i in range(24)]
    assert index.text_ids == [200000 + c for c in range(12)]
    assert index.texts[0] == QUERY
    assert index.gt_image_ids[0] == [100000, 100012]
    assert index.image_feats.shape == (24, 64)
    assert index.image_feats.dtype == torch.float32
    torch.testing.assert_close(index.image_feats.norm(dim=1),
                               torch.ones(24))
    with torch.no_grad():
        expected = model(texts=index.texts[3:5])  # normalised, 'tensor'
    torch.testing.assert_close(index.text_feats[3:5], expected)


def test_search_equals_brute_force(setup):
    index, model = setup['index'], setup['model']
    row = index.text_ids.index(200000)
    for queries, gallery, feats, ids in (
            (index.text_feats, 'image', index.image_feats, index.image_ids),
            (index.image_feats, 'text', index.text_feats, index.text_ids)):
        scores, found = index.search(queries, 5, gallery, query_chunk=3,
                                     gallery_chunk=7)
        ref_scores, ref_ids = brute_force(queries, feats, ids, 5)
        assert found == ref_ids
        torch.testing.assert_close(scores, ref_scores)
    # a text query is encoded like the indexed text of the same string
    hits = text_to_image(model, index, [QUERY], k=24)[0]
    _, ref_ids = brute_force(index.text_feats[row:row + 1],
                             index.image_feats, index.image_ids, 24)
    assert [i for i, _ in hits] == ref_ids[0]
    # an image file is preprocessed like the indexed (tsv) copy
    png = setup['root'] / 'shapes' / 'zeroshot' / 'test' / '000' / \
        '100000.png'
    hits = image_to_text(model, index, [png], k=4)[0]
    ref_scores, ref_ids = brute_force(index.image_feats[:1],
                                      index.text_feats, index.text_ids, 4)
    assert [i for i, _ in hits] == ref_ids[0]
    torch.testing.assert_close(torch.tensor([s for _, s in hits]),
                               ref_scores[0])


def test_save_load_round_trip(setup, tmp_path):
    index = setup['index']
    path = tmp_path / 'index.pt'
    index.save(str(path))
    loaded = RetrievalIndex.load(str(path))
    assert torch.equal(loaded.image_feats, index.image_feats)
    assert torch.equal(loaded.text_feats, index.text_feats)
    assert loaded.image_ids == index.image_ids
    assert loaded.text_ids == index.text_ids
    assert loaded.texts == index.texts
    assert loaded.gt_image_ids == index.gt_image_ids
    assert loaded.text_of(200001) == index.texts[1]
    torch.save({'state_dict': {}}, tmp_path / 'ckpt.pth')
    with pytest.raises(ValueError, match='not a retrieval index'):
        RetrievalIndex.load(str(tmp_path / 'ckpt.pth'))


def test_generic_batches_grow_buffers(setup):
    """Tensor and string batches without known counts: ids count from 0 and
    the buffers grow past their (zero) initial capacity."""
    model = setup['model']
    torch.manual_seed(1)
    images = torch.randint(0, 256, (5, 3, 32, 32)).float()
    texts = ['红色', '蓝色的圆形', '三角形']
    index = extract_features(model, [images[:2], texts[:1], images[2:],
                                     texts[1:]], fp16=True, progress=False)
    assert index.image_ids == list(range(5))
    assert index.text_ids == list(range(3))
    assert index.texts == texts and index.gt_image_ids is None
    assert index.image_feats.dtype == torch.float16
    with torch.no_grad():
        pixels = model.data_preprocessor(dict(inputs=images),
                                         False)['images']
        img_ref, txt_ref = model(pixels, texts)
    torch.testing.assert_close(index.image_feats.float(), img_ref,
                               atol=2e-3, rtol=0)
    torch.testing.assert_close(index.text_feats.float(), txt_ref,
                               atol=2e-3, rtol=0)
    with pytest.raises(TypeError, match='dicts'):
        extract_features(model, [42], progress=False)


class MaxOutput(TorchDispatchMode):
    """Records the largest tensor any op produces (and every shape)."""

    def __init__(self):
        super().__init__()
        self.largest, self.shapes = 0, set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out, ):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
                self.shapes.add(tuple(t.shape))
        return out


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16])
def test_100k_gallery_bounded_memory(dtype):
    gen = torch.Generator().manual_seed(0)
    num, dim, k, q_chunk, g_chunk = 100_000, 32, 10, 8, 4096
    gallery = torch.nn.functional.normalize(
        torch.randn(num, dim, generator=gen), dim=1).to(dtype)
    queries = torch.nn.functional.normalize(
        torch.randn(20, dim, generator=gen), dim=1)
    ids = [f'img{i}' for i in range(num)]
    index = RetrievalIndex(gallery, ids)
    with MaxOutput() as probe:
        scores, found = index.search(queries, k, query_chunk=q_chunk,
                                     gallery_chunk=g_chunk)
    ref_scores, ref_ids = brute_force(queries, gallery, ids, k)
    assert found == ref_ids
    torch.testing.assert_close(scores, ref_scores)
    assert (q_chunk, g_chunk) in probe.shapes  # chunked score matrices
    bound = max(q_chunk * g_chunk, g_chunk * dim)  # scores, fp32 chunk copy
    assert probe.largest <= bound < 20 * num, probe.largest


def test_tools(setup, tmp_path):
    root, ckpt, model = setup['root'], setup['ckpt'], setup['model']
    out = tmp_path / 'index.pt'
    run_tool('extract_features.py', CFG, ckpt, '--out', str(out), '--fp16',
             '--cfg-options',
             f'test_dataloader.dataset.data_root={root}/shapes')
    index = RetrievalIndex.load(str(out))
    assert index.image_feats.dtype == torch.float16
    assert index.image_ids == setup['index'].image_ids
    assert index.text_ids == setup['index'].text_ids
    for key in ('image_feats', 'text_feats'):
        torch.testing.assert_close(getattr(index, key).float(),
                                   getattr(setup['index'], key), atol=2e-3,
                                   rtol=0)
    png = str(root / 'shapes' / 'zeroshot' / 'test' / '001' / '100001.png')
    printed = run_tool('retrieval_search.py', CFG, ckpt, '--index', str(out),
                       '--text', QUERY, '--image', png, '--topk', '3',
                       with_stderr=False)
    text_part, image_part = printed.split(f'image: {png}')
    assert f'text: {QUERY}' in text_part
    want_images = [i for i, _ in text_to_image(model, index, QUERY, 3)[0]]
    assert [int(i) for i in re.findall(r'image_id=(\d+)', text_part)] == \
        want_images
    want_texts = [i for i, _ in image_to_text(model, index, [png], 3)[0]]
    found = re.findall(r'text_id=(\d+) score=\S+ text=(\S+)', image_part)
    assert [int(i) for i, _ in found] == want_texts
    assert [t for _, t in found] == [index.text_of(i) for i in want_texts]


@pytest.mark.parametrize('precision', ['int8', 'bf16'])
def test_tools_low_precision_features(setup, tmp_path, precision):
    """``tools/extract_features.py --prepare int8|bf16`` (Int8Linear, bf16
    attention route) gives features close to the fp32 index."""
    out = tmp_path / 'index.pt'
    log = run_tool('extract_features.py', CFG, setup['ckpt'], '--out',
                   str(out), '--prepare', precision, '--cfg-options',
                   f'test_dataloader.dataset.data_root={setup["root"]}/shapes')
    # int8 calibrates ResNet convolutions (none in this ViT) on batch one
    assert ('calibrated on the' in log) == (precision == 'int8'), log
    index = RetrievalIndex.load(str(out))
    for key in ('image_feats', 'text_feats'):
        got, ref = (getattr(i, key).float() for i in (index, setup['index']))
        assert torch.nn.functional.cosine_similarity(got, ref).min() > 0.99


def test_index_stores_the_model_identity(setup, tmp_path):
    index = setup['index']
    assert index.model == model_identity(setup['model'])
    path = str(tmp_path / 'index.pt')
    index.save(path)
    assert RetrievalIndex.load(path).model == index.model


def test_search_with_another_model_is_refused(setup, tmp_path):
    """The probe: index built with A, searched with B."""
    index_path = tmp_path / 'index.pt'
    setup['index'].save(str(index_path))
    torch.manual_seed(1)
    other = init_retrieval_model(setup['cfg'], prepare=None)  # saved
    other_ckpt = tmp_path / 'other.pth'
    torch.save(dict(state_dict=other.state_dict()), other_ckpt)
    args = [sys.executable, osp.join(REPO, 'tools', 'retrieval_search.py'),
            CFG, str(other_ckpt), '--index', str(index_path), '--text', QUERY]
    refused = run(args, check=False)
    assert refused.returncode != 0
    assert f'retrieval index {index_path} was built with other model ' \
        'weights' in refused.stderr, refused.stderr[-3000:]
    assert 'Traceback' not in refused.stderr
    allowed = run([*args, '--allow-other-model'])
    assert 'allowed by --allow-other-model' in allowed.stdout + allowed.stderr
    assert f'text: {QUERY}' in allowed.stdout


def test_index_identity_checks(setup, mm_log):
    current = model_identity(setup['model'], [dict(type='A')])
    with pytest.raises(OtherModelError, match='stores no model identity'):
        check_index_model(None, current, 'old.pt')
    check_index_model(None, current, 'old.pt', allow_other_model=True)
    assert 'old.pt stores no model identity' in mm_log.messages()[-1]
    check_index_model(dict(current), current, 'same.pt')
    assert len(mm_log.messages()) == 1
    check_index_model(dict(current, preprocessing='[]'), current, 'idx.pt')
    assert 'preprocessed differently from the gallery' in \
        mm_log.messages()[-1]


def test_image_to_text_without_pipeline_on_resnet(tmp_path):
    """The default pipeline takes the input size from the backbone's
    ``img_size``: ModifiedResNet (RN50-like) works like a ViT."""
    from PIL import Image

    from mmcnclip.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='mmcnclip.ChineseCLIP',
        backbone=dict(type='mmcnclip.ModifiedResNet', base_channels=8,
                      img_size=64, output_dims=16, head_width=64),
        text_encoder=dict(
            type='mmcnclip.BertTextEncoder', max_position=64,
            arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                      feedforward_channels=64)),
        text_proj=dict(type='mmcnclip.CLIPProjection', in_channels=32,
                       out_channels=16))).eval()
    assert model.backbone.img_size == 64
    texts = ['红色', '蓝色', '绿色']
    with torch.no_grad():
        text_feats = torch.nn.functional.normalize(
            model.encode_text(texts), dim=-1)
    index = RetrievalIndex(text_feats=text_feats, text_ids=[1, 2, 3],
                           texts=texts)
    png = tmp_path / 'red.png'
    Image.new('RGB', (80, 70), (255, 0, 0)).save(png)
    hits = image_to_text(model, index, [str(png)], k=3)[0]
    assert sorted(i for i, _ in hits) == [1, 2, 3]
