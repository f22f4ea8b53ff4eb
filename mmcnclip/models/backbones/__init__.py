from .bert import BertTextEncoder
from .modified_resnet import ModifiedResNet
from .vision_transformer import CLIPVisionTransformer

__all__ = ['BertTextEncoder', 'ModifiedResNet', 'CLIPVisionTransformer']
