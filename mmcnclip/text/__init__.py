"""Text utilities: Chinese BERT tokenizer, prompt templates, class names."""
from .normalize import normalize_text
from .prompts import (available_classnames, available_templates,
                      build_prompts, get_classnames, get_templates)
from .tokenizer import ChineseTokenizer, tokenize

__all__ = [
    'ChineseTokenizer', 'tokenize', 'available_classnames',
    'available_templates', 'build_prompts', 'get_classnames', 'get_templates',
    'normalize_text'
]
