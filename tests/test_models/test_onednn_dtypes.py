"""oneDNN's dtypes on the CPU at hand: fp32 everywhere, bf16 only where
oneDNN has it; the prepared bf16 model runs on CPUs without it."""
import os.path as osp
import sys

import pytest
import torch

from helpers.processes import run
from mmcnclip.models.layers.onednn_dtypes import onednn_computes

#: prepares the tiny ViT and ResNet models in bf16 and prints, per model,
#: the relative difference to the unprepared bf16 model and the routes
BF16 = '''
import sys, torch
sys.path[:0] = {paths!r}
from test_inference import RESNET, VIT, build
from mmcnclip.models.inference import prepare_for_inference
from mmcnclip.models.layers.fused_linear import linear_routes
from mmcnclip.models.layers.onednn_dtypes import onednn_computes
print('bf16', onednn_computes(torch.bfloat16))
x = torch.randn(2, 3, 64, 64).bfloat16()
for cfg in (VIT, RESNET):
    plain = build(cfg).bfloat16()
    fast = prepare_for_inference(build(cfg), dtype=torch.bfloat16)
    with torch.inference_mode():
        a, b = plain.encode_image(x).float(), fast.encode_image(x).float()
    reasons = {{reason for _, reason, _ in linear_routes(fast).values()}}
    print('diff', ((a - b).norm() / a.norm()).item(), 'reasons', reasons)
'''


def test_fp32_yes_fp16_no():
    assert onednn_computes(torch.float32) == \
        torch.backends.mkldnn.is_available()
    assert not onednn_computes(torch.float16)


@pytest.mark.skipif(not torch.backends.cpu.get_cpu_capability().startswith(
    'AVX'), reason='needs an x86 CPU with AVX2')
def test_bf16_preparation_on_a_cpu_without_onednn_bf16(tmp_path):
    """Capped to AVX2 (as on a Zen 2 or Haswell CPU) oneDNN has no bf16:
    its fused linear and convolution raised there; now the prepared model
    falls back to PyTorch's ops, says why for each linear family and warns
    that bf16 is slow there."""
    tests = osp.dirname(osp.dirname(osp.abspath(__file__)))
    proc = run([sys.executable, '-c', BF16.format(
        paths=[tests, osp.join(tests, 'test_models')])],
               env=dict(ONEDNN_MAX_CPU_ISA='AVX2',
                        MMCNCLIP_CACHE_DIR=str(tmp_path)))
    out = proc.stdout
    assert 'bf16 on a CPU without oneDNN bf16 kernels' in proc.stderr
    lines = out.splitlines()
    assert 'bf16 False' in lines, out
    diffs = [line.split() for line in lines if line.startswith('diff')]
    assert len(diffs) == 2, out
    for line in diffs:
        assert float(line[1]) < 0.05, out
        assert 'oneDNN has no bfloat16 kernels on this CPU' in ' '.join(
            line), out
