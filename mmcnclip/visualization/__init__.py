"""Pictures of predictions (zero-shot labels, retrieval hits) with CJK
text."""
from .fonts import find_cjk_font
from .pictures import (draw_classification, draw_image_to_text,
                       draw_text_to_image)

__all__ = ['find_cjk_font', 'draw_classification', 'draw_image_to_text',
           'draw_text_to_image']
