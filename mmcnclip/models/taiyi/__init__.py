"""Taiyi-CLIP (IDEA-CCNL): an OpenAI/open_clip image tower paired with a
Chinese RoBERTa text tower whose feature is the BERT pooler output."""
from .projection import TextProjection
from .taiyi_clip import TaiyiCLIP

__all__ = ['TaiyiCLIP', 'TextProjection']
