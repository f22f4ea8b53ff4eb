"""Zero-shot classification datasets (offline, no downloads)."""
from .cifar import CIFAR10, CIFAR100, load_cifar_pickle
from .image_folder import ZeroShotImageFolder

__all__ = ['CIFAR10', 'CIFAR100', 'ZeroShotImageFolder', 'load_cifar_pickle']
