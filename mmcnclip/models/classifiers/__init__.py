from .zero_shot import ZeroShotClassifier

__all__ = ['ZeroShotClassifier']
