"""tools/model_converters/cnclip_to_mmcnclip.py and ``get_model`` loading."""
import importlib.util
import os
import os.path as osp

import pytest
import torch
from mmengine.runner import load_checkpoint

from conftest import REPO, TEXTS, build_official, images, model_config, \
    save_official
from mmcnclip.checkpoint import load_checkpoint_file
from mmcnclip.registry import MODELS
from tiny_models import tiny_config

TOOL = osp.join(REPO, 'tools', 'model_converters', 'cnclip_to_mmcnclip.py')


def load_tool():
    spec = importlib.util.spec_from_file_location('cnclip_to_mmcnclip', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def official_rn50(tmp_path_factory):
    """The official RN50 (random weights) and its ``.pt`` file."""
    model = build_official('RN50')
    path = str(tmp_path_factory.mktemp('official') / 'clip_cn_rn50.pt')
    save_official(model, path)
    yield model, path
    if osp.exists(path):
        os.remove(path)


@pytest.fixture(scope='module')
def reference(official_rn50):
    """Our RN50 loaded from the official file, and its features."""
    model = MODELS.build(model_config('RN50')).eval()
    load_checkpoint(model, official_rn50[1], map_location='cpu', strict=True)
    return model.state_dict(), features(model)


def features(model):
    with torch.no_grad():
        return model(images(224), model.tokenize(TEXTS))


@pytest.fixture
def dst(tmp_path):
    """Output path of the converter, deleted afterwards."""
    path = tmp_path / 'out' / 'cn-clip_rn50.pth'
    yield str(path)
    if path.exists():
        path.unlink()


@pytest.mark.parametrize('half', [False, True])
def test_converted_checkpoint_loads_strictly(official_rn50, reference, dst,
                                             capsys, half):
    official, src = official_rn50
    argv = [src, dst] + (['--half'] if half else [])
    info = load_tool().main(argv)
    printed = capsys.readouterr().out
    assert 'Detected format: official' in printed
    assert f'wrote {info["num_keys"]} keys' in printed

    ckpt = load_checkpoint_file(dst)
    assert set(ckpt) == {'state_dict', 'meta'}
    assert ckpt['meta']['source_format'] == 'official'
    assert ckpt['meta']['mmcnclip_version']
    sd = ckpt['state_dict']
    assert all(k.startswith(('backbone.', 'text_encoder.', 'text_proj.',
                             'logit_scale')) for k in sd)
    floats = {v.dtype for v in sd.values() if v.is_floating_point()}
    assert floats == {torch.float16 if half else torch.float32}

    ref_sd, ref_feats = reference
    sd = {k: v for k, v in sd.items()
          if not k.startswith('text_encoder.pooler')}  # unused by CLIP
    assert sd.keys() == ref_sd.keys()
    if half:
        assert all(torch.equal(v.half(), sd[k]) if v.is_floating_point()
                   else torch.equal(v, sd[k]) for k, v in ref_sd.items())
        return
    # Plain strict load_state_dict.
    ours = MODELS.build(model_config('RN50')).eval()
    torch.nn.Module.load_state_dict(ours, sd, strict=True)
    for mine, theirs in zip(features(ours), ref_feats):
        assert torch.equal(mine, theirs)
    # ... and through mmengine, as ``load_from`` would.
    load_checkpoint(ours, dst, map_location='cpu', strict=True)
    assert all(torch.equal(v, ref_sd[k]) for k, v in ours.state_dict().items())
    assert torch.equal(ours.backbone.conv1.weight,
                       official.visual.conv1.weight)


def test_converter_refuses_a_non_clip_file(tmp_path):
    src = str(tmp_path / 'other.pth')
    torch.save({'state_dict': {'fc.weight': torch.ones(2, 2)}}, src)
    from mmcnclip.checkpoint import CheckpointMismatchError
    with pytest.raises(CheckpointMismatchError):
        load_tool().main([src, str(tmp_path / 'out.pth')])
    assert not osp.exists(tmp_path / 'out.pth')


def test_get_model_with_official_weights(official_rn50):
    import mmpretrain
    official, src = official_rn50
    cfg = osp.join(REPO, 'configs', '_base_', 'models', 'cn-clip_resnet50.py')
    model = mmpretrain.get_model(cfg, pretrained=src)
    official_sd = official.state_dict()
    ours_sd = model.state_dict()
    assert torch.equal(ours_sd['backbone.attnpool.c_proj.weight'],
                       official_sd['visual.attnpool.c_proj.weight'])
    assert torch.equal(ours_sd['text_proj.proj'],
                       official_sd['text_projection'])
    assert torch.equal(
        ours_sd['text_encoder.layers.2.attn.qkv.weight'],
        torch.cat([official_sd[f'bert.encoder.layer.2.attention.self.{p}'
                               '.weight'] for p in ('query', 'key', 'value')]))
    assert torch.equal(model.logit_scale, official.logit_scale)


def test_converts_a_hugging_face_folder(tmp_path, capsys):
    transformers = pytest.importorskip('transformers')
    config = transformers.ChineseCLIPConfig(
        text_config=dict(vocab_size=21128, hidden_size=64,
                         num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=128,
                         max_position_embeddings=64),
        vision_config=dict(hidden_size=64, intermediate_size=256,
                           num_hidden_layers=2, num_attention_heads=1,
                           image_size=56, patch_size=14),
        projection_dim=32)
    hf = transformers.ChineseCLIPModel(config)
    folder = str(tmp_path / 'hf')
    hf.save_pretrained(folder)
    dst = str(tmp_path / 'tiny.pth')
    info = load_tool().main([folder, dst])
    assert info['source_format'] == 'huggingface'
    assert 'Detected format: huggingface' in capsys.readouterr().out

    ours = MODELS.build(tiny_config())
    load_checkpoint(ours, dst, map_location='cpu', strict=True)
    assert torch.equal(ours.neck.proj, hf.visual_projection.weight.t())
    assert torch.equal(
        ours.backbone.layers[1].attn.qkv.bias,
        torch.cat([getattr(hf.vision_model.encoder.layers[1].self_attn,
                           f'{p}_proj').bias for p in 'qkv']))
