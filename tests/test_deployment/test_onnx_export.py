"""ONNX export of both towers: dynamic batch/length, parity with PyTorch."""
import pytest
import torch

from mmcnclip.registry import MODELS

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

from mmcnclip.deployment import check_onnx, export_onnx  # noqa: E402

TINY = dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=128)
TEXTS = ['一只猫的照片', '天安门广场上的人群。', '红色']


def tiny_model():
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='mmcnclip.ChineseCLIP',
        backbone=dict(type='mmcnclip.CLIPVisionTransformer', arch=TINY,
                      img_size=32, patch_size=8),
        neck=dict(type='mmcnclip.CLIPProjection', in_channels=64,
                  out_channels=32),
        text_encoder=dict(type='mmcnclip.BertTextEncoder', arch=TINY,
                          drop_rate=0., attn_drop_rate=0.),
        text_proj=dict(type='mmcnclip.CLIPProjection', in_channels=64,
                       out_channels=32))).eval()


def dynamic_dims(path):
    graph = onnx.load(path).graph
    return [d.dim_param for d in graph.input[0].type.tensor_type.shape.dim]


def test_export_image_tower(tmp_path):
    model = tiny_model()
    path = export_onnx(model, 'image', str(tmp_path / 'image.onnx'))
    assert dynamic_dims(path)[0]  # symbolic batch axis
    for batch in (1, 3):
        images = torch.randn(batch, 3, 32, 32)
        assert check_onnx(path, model, {'images': images}) <= 1e-4
    # The model itself is left untouched (export works on a copy).
    assert type(model.backbone.layers[0].mlp.act).__name__ == 'QuickGELU'


def test_export_text_tower_dynamic_length(tmp_path):
    model = tiny_model()
    path = export_onnx(model, 'text', str(tmp_path / 'text.onnx'))
    dims = dynamic_dims(path)
    assert dims[0] and dims[1]  # symbolic batch and length
    short = model.tokenize(TEXTS[:1], pad_to_longest=True)
    full = model.tokenize(TEXTS, pad_to_longest=True)
    assert short.shape[1] != full.shape[1]
    for ids in (short, full, model.tokenize(TEXTS)):  # lengths 1..52
        assert check_onnx(path, model, {'input_ids': ids}) <= 1e-4


def test_check_onnx_detects_a_different_model(tmp_path):
    model = tiny_model()
    path = export_onnx(model, 'image', str(tmp_path / 'image.onnx'))
    with torch.no_grad():
        model.neck.proj.mul_(-1)
    assert check_onnx(path, model, {'images': torch.randn(2, 3, 32, 32)}) > 0.1


def test_bad_tower_name(tmp_path):
    with pytest.raises(ValueError, match='tower'):
        export_onnx(tiny_model(), 'audio', str(tmp_path / 'x.onnx'))


@pytest.mark.slow
def test_export_fp16(tmp_path):
    model = tiny_model()
    path = export_onnx(model, 'image', str(tmp_path / 'image.onnx'),
                       fp16=True)
    assert check_onnx(path, model, {'images': torch.randn(3, 3, 32, 32)}) \
        <= 1e-2
