"""A tiny random ModifiedResNet and images for the int8 tests."""
import torch
import torch.nn.functional as F

from conftest import randomize_
from mmcnclip.models.backbones.modified_resnet import ModifiedResNet


def tiny_resnet() -> ModifiedResNet:
    """Width-8 RN50 layout on 64 px, every output, seeded random weights."""
    torch.manual_seed(0)
    net = ModifiedResNet(base_channels=8, img_size=64, output_dims=16,
                         head_width=8, out_indices=(0, 1, 2, 3, 4))
    randomize_(net)
    return net.eval()


def images(seed: int, n: int = 8) -> torch.Tensor:
    """Smooth random 64 px images (normalised scale)."""
    gen = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.randn(n, 3, 8, 8, generator=gen), size=64,
                         mode='bilinear')


def quantised_convs(net: ModifiedResNet) -> int:
    """Statically quantised convolutions in ``net.int8_stages``."""
    return sum('quantized' in type(m).__module__ and 'Conv' in
               type(m).__name__ for m in net.int8_stages.modules())
