"""The official text normalisation of captions and prompts."""


def normalize_text(text: str) -> str:
    """Lower case, curly double quotes to ``"``: what ``cn_clip`` applies to
    training captions (``cn_clip/training/data.py``), evaluation captions
    and zero-shot prompts (``cn_clip.eval.data._preprocess_text``)."""
    return text.lower().replace('“', '"').replace('”', '"')
