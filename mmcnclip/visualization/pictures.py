"""Draw predictions: an image with its top-k labels, a text query with its
top-k images, an image query with its top-k texts."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Side of a drawn image in pixels (small images are enlarged).
TILE = 192
PAD = 8
GOOD, BAD, INK, PAPER = (0, 150, 0), (200, 0, 0), (20, 20, 20), (255,) * 3


def _font(font_file: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_file, size)


def _tile(image: np.ndarray, border=None) -> Image.Image:
    """An RGB HWC uint8 array as a TILE x TILE picture, optionally framed."""
    img = Image.fromarray(np.ascontiguousarray(image)).convert('RGB')
    scale = TILE / max(img.size)
    resample = Image.NEAREST if scale >= 2 else Image.BICUBIC
    img = img.resize((max(1, round(img.width * scale)),
                      max(1, round(img.height * scale))), resample)
    tile = Image.new('RGB', (TILE, TILE), PAPER)
    tile.paste(img, ((TILE - img.width) // 2, (TILE - img.height) // 2))
    if border is not None:
        ImageDraw.Draw(tile).rectangle([0, 0, TILE - 1, TILE - 1],
                                       outline=border, width=4)
    return tile


def _wrap(text: str, font, width: int) -> List[str]:
    """Break ``text`` into lines of at most ``width`` pixels (per
    character: Chinese has no spaces)."""
    lines, line = [], ''
    for char in text:
        if font.getlength(line + char) > width and line:
            lines.append(line)
            line = ''
        line += char
    return lines + [line]


def draw_classification(image: np.ndarray, labels: Sequence[str],
                        scores: Sequence[float], font_file: str,
                        truth: Optional[str] = None) -> Image.Image:
    """The image with its top labels and scores beside it.

    Args:
        image (np.ndarray): RGB image, (H, W, 3) uint8.
        labels (Sequence[str]): Top labels, best first.
        scores (Sequence[float]): Their scores (probabilities).
        font_file (str): A font with the glyphs of the labels.
        truth (str, optional): Ground-truth label (correct labels are drawn
            green, the others red). Defaults to None.

    Returns:
        PIL.Image.Image: The picture.
    """
    font = _font(font_file, 18)
    width = 300
    canvas = Image.new('RGB', (TILE + width + 3 * PAD, TILE + 2 * PAD), PAPER)
    canvas.paste(_tile(image), (PAD, PAD))
    draw = ImageDraw.Draw(canvas)
    x, y = TILE + 2 * PAD, PAD
    if truth is not None:
        draw.text((x, y), f'真值: {truth}', font=font, fill=INK)
        y += 30
    for rank, (label, score) in enumerate(zip(labels, scores), 1):
        colour = INK if truth is None else (GOOD if label == truth else BAD)
        draw.text((x, y), f'{rank}. {label}  {score:.3f}', font=font,
                  fill=colour)
        draw.rectangle([x, y + 22, x + int(score * (width - PAD)), y + 26],
                       fill=colour)
        y += 32
    return canvas


def draw_text_to_image(query: str, hits: Sequence[Tuple[np.ndarray, float,
                                                        bool]],
                       font_file: str) -> Image.Image:
    """A text query above its top image hits.

    Args:
        query (str): The query text.
        hits (Sequence[tuple]): ``(image, score, is_match)`` per hit, best
            first; images RGB (H, W, 3) uint8. Matches are framed green,
            the others red.
        font_file (str): A font with the glyphs of the query.

    Returns:
        PIL.Image.Image: The picture.
    """
    font = _font(font_file, 18)
    width = max(1, len(hits)) * (TILE + PAD) + PAD
    lines = _wrap(f'查询: {query}', font, width - 2 * PAD)
    top = PAD + 26 * len(lines)
    canvas = Image.new('RGB', (width, top + TILE + 34), PAPER)
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        draw.text((PAD, PAD + 26 * i), line, font=font, fill=INK)
    for i, (image, score, match) in enumerate(hits):
        x = PAD + i * (TILE + PAD)
        canvas.paste(_tile(image, GOOD if match else BAD), (x, top))
        draw.text((x, top + TILE + 6), f'{i + 1}. {score:.3f}', font=font,
                  fill=GOOD if match else BAD)
    return canvas


def draw_image_to_text(image: np.ndarray,
                       hits: Sequence[Tuple[str, float, bool]],
                       font_file: str) -> Image.Image:
    """An image query beside its top text hits.

    Args:
        image (np.ndarray): The query image, RGB (H, W, 3) uint8.
        hits (Sequence[tuple]): ``(text, score, is_match)`` per hit, best
            first (matches green, the others red).
        font_file (str): A font with the glyphs of the texts.

    Returns:
        PIL.Image.Image: The picture.
    """
    font = _font(font_file, 18)
    width = 420
    rows = [(_wrap(f'{i + 1}. {text}  {score:.3f}', font, width), match)
            for i, (text, score, match) in enumerate(hits)]
    height = max(TILE, sum(26 * len(lines) + 8 for lines, _ in rows))
    canvas = Image.new('RGB', (TILE + width + 3 * PAD, height + 2 * PAD),
                       PAPER)
    canvas.paste(_tile(image), (PAD, PAD))
    draw = ImageDraw.Draw(canvas)
    y = PAD
    for lines, match in rows:
        for line in lines:
            draw.text((TILE + 2 * PAD, y), line, font=font,
                      fill=GOOD if match else BAD)
            y += 26
        y += 8
    return canvas
