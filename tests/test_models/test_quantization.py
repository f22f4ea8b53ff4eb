"""int8 preparation: ResNet convolutions statically quantised on
calibration images (also by the first int8 ``test_step``), linear layers
dynamically; features stay close to the fp32 model."""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from helpers.int8 import images, quantised_convs, tiny_resnet
from mmcnclip.models.inference import (PreparesForInference, is_prepared,
                                       prepare_for_inference)
from mmcnclip.models.quantization import INT8


def test_static_int8_resnet_stays_close_to_fp32():
    fp32 = prepare_for_inference(tiny_resnet())
    int8 = prepare_for_inference(tiny_resnet(), dtype=INT8,
                                 calibration=images(0))
    # stem, 3 per bottleneck (3 + 4 + 6 + 3), one per stage shortcut
    assert quantised_convs(int8) == 3 + 3 * 16 + 4
    x = images(1)  # not the calibration images
    with torch.no_grad():
        ref, out = fp32(x), int8(x)
    assert [o.shape for o in out] == [r.shape for r in ref]
    cos = [F.cosine_similarity(r.flatten(1), o.flatten(1)).min()
           for r, o in zip(ref, out)]
    # The stage maps; the attention pool of this tiny random net is nearly
    # one-hot (huge logits), so its embedding is checked on RN50 below.
    assert min(cos[:4]) > 0.98, cos


def test_int8_rn50_embedding_stays_close_to_fp32():
    """Official-initialised RN50 (as the benchmark builds it): calibrated
    on 8 images, compared on 4 others."""
    from mmcnclip.benchmarking.models import build_official, build_ours
    torch.manual_seed(0)
    state = build_official('RN50').state_dict()
    fp32, int8 = (build_ours('RN50', state, inference_precision=None)
                  for _ in range(2))
    prepare_for_inference(fp32)
    gen = torch.Generator().manual_seed(0)
    prepare_for_inference(int8, dtype=INT8, calibration=F.interpolate(
        torch.randn(8, 3, 28, 28, generator=gen), size=224))
    x = F.interpolate(torch.randn(4, 3, 28, 28, generator=gen), size=224)
    with torch.no_grad():
        cos = F.cosine_similarity(fp32.encode_image(x), int8.encode_image(x))
    assert int8.backbone.int8_stages is not None
    assert cos.min() > 0.99, cos


def test_without_calibration_convolutions_stay_fp32():
    net = prepare_for_inference(tiny_resnet(), dtype=INT8)
    assert net.int8_stages is None


class _Classifier(PreparesForInference, BaseModel):

    def __init__(self):
        super().__init__()
        self.backbone = tiny_resnet()
        self.set_inference_precision('int8')

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.backbone(inputs)[-1]


def test_first_int8_test_step_calibrates_on_its_batch():
    model = _Classifier().eval()
    with torch.no_grad():
        model.test_step(dict(inputs=images(0)))
    assert is_prepared(model) and quantised_convs(model.backbone) > 0


def test_tta_batch_calibrates_on_its_first_view():
    """``tools/test.py --tta --prepare int8``: the hook sees the batch in
    TTA form (one batch per view) and calibrates on the first view."""
    from mmpretrain.models import ClsDataPreprocessor

    from mmcnclip.models.inference import calibration_images
    model = _Classifier().eval()
    model.data_preprocessor = ClsDataPreprocessor()
    views = [[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)
              for _ in range(3)] for _ in range(2)]
    stacked = [torch.stack(view) for view in views]  # as tools/test.py has
    for inputs in (views, stacked):
        images = calibration_images(
            model, dict(inputs=inputs, data_samples=[None, None]), INT8)
        assert images.shape == (3, 3, 32, 32)
        torch.testing.assert_close(images[0], views[0][0].float())
    assert calibration_images(model, dict(inputs=stacked[0]), INT8).shape \
        == (3, 3, 32, 32)  # a plain batch
    assert calibration_images(model, dict(inputs=views), torch.float32) is \
        None


def test_linear_layers_without_onednn_int8_use_pytorch_dynamic(monkeypatch):
    """Where PyTorch lacks oneDNN's int8 linear, ``quantize_dynamic`` with
    per-channel weights takes over and stays close to fp32."""
    from mmcnclip.models import quantization
    from mmcnclip.models.layers.int8_linear import Int8Linear
    monkeypatch.setattr(quantization, 'onednn_int8_linear_available',
                        lambda: False)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, 16)).eval()
    x = torch.randn(8, 32)
    with torch.no_grad():
        ref = model(x)
        assert quantization.quantize_linear_int8_(model) == 2
        out = model(x)
    assert not any(isinstance(m, (Int8Linear, torch.nn.Linear))
                   for m in model.modules())
    assert F.cosine_similarity(ref, out).min() > 0.99
