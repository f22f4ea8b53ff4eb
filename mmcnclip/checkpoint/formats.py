"""Declarative key tables for the published Chinese CLIP checkpoint layouts.

Every table maps source keys (regular expressions, matched in full) to keys
of the mmcnclip layout:

- ``backbone.*``      image tower (our ViT / ModifiedResNet keys)
- ``neck.proj``       image projection (ViT only)
- ``text_encoder.*``  text tower (our BERT keys)
- ``text_proj.proj``  text projection
- ``logit_scale``

A rule is ``(pattern, target)`` or ``(pattern, target, op)`` where ``op`` is
one of ``'T'`` (transpose a Linear weight into a ``x @ proj`` matrix),
``'flatten'`` (drop leading singleton dims) or ``('fuse', parts)``: the
pattern's named group ``part`` says which slice of a fused QKV tensor the
key holds, in the order given by ``parts``; ``'skip'`` (target None) marks
keys that are known but belong to no mmcnclip tower.

:data:`FORMATS` declares every supported layout once, in detection order:
its marker key prefixes, its rule tables and the raw prefixes of its image
tower. Everything else (detection, conversion, the converter's
``--format`` choices, error messages) reads it.
"""
from typing import NamedTuple, Optional, Tuple

QKV = ('fuse', ('q', 'k', 'v'))
QKV_BERT = ('fuse', ('query', 'key', 'value'))


def bert_rules(src: str) -> list:
    """Rules of a BERT-layout text tower whose keys start with ``src``."""
    src = src.replace('.', r'\.')
    layer = src + r'encoder\.layer\.(\d+)\.'
    return [
        (src + r'embeddings\.word_embeddings\.weight',
         'text_encoder.word_embed.weight'),
        (src + r'embeddings\.position_embeddings\.weight',
         'text_encoder.pos_embed.weight'),
        (src + r'embeddings\.token_type_embeddings\.weight',
         'text_encoder.type_embed.weight'),
        (src + r'embeddings\.LayerNorm\.(weight|bias)',
         r'text_encoder.embed_norm.\1'),
        (layer + r'attention\.self\.(?P<part>query|key|value)\.(weight|bias)',
         r'text_encoder.layers.\1.attn.qkv.\3', QKV_BERT),
        (layer + r'attention\.output\.dense\.(weight|bias)',
         r'text_encoder.layers.\1.attn.proj.\2'),
        (layer + r'attention\.output\.LayerNorm\.(weight|bias)',
         r'text_encoder.layers.\1.ln1.\2'),
        (layer + r'intermediate\.dense\.(weight|bias)',
         r'text_encoder.layers.\1.mlp.fc1.\2'),
        (layer + r'output\.dense\.(weight|bias)',
         r'text_encoder.layers.\1.mlp.fc2.\2'),
        (layer + r'output\.LayerNorm\.(weight|bias)',
         r'text_encoder.layers.\1.ln2.\2'),
        (src + r'pooler\.dense\.(weight|bias)', r'text_encoder.pooler.\1'),
    ]


_HF_BLOCK = r'vision_model\.encoder\.layers\.(\d+)\.'
_MMPRETRAIN_BLOCK = r'vision_backbone\.layers\.(\d+)\.'


def openai_vit_rules(src: str) -> list:
    """Rules of an OpenAI-layout ViT image tower whose keys start with
    ``src`` (``'visual.'`` or ``''``)."""
    src = src.replace('.', r'\.')
    block = src + r'transformer\.resblocks\.(\d+)\.'
    return [
        (src + r'conv1\.weight', 'backbone.patch_embed.weight'),
        (src + r'class_embedding', 'backbone.cls_token'),
        (src + r'positional_embedding', 'backbone.pos_embed'),
        (src + r'ln_pre\.(weight|bias)', r'backbone.pre_norm.\1'),
        (block + r'ln_1\.(weight|bias)', r'backbone.layers.\1.ln1.\2'),
        (block + r'attn\.in_proj_(weight|bias)',
         r'backbone.layers.\1.attn.qkv.\2'),
        (block + r'attn\.out_proj\.(weight|bias)',
         r'backbone.layers.\1.attn.proj.\2'),
        (block + r'ln_2\.(weight|bias)', r'backbone.layers.\1.ln2.\2'),
        (block + r'mlp\.c_fc\.(weight|bias)',
         r'backbone.layers.\1.mlp.fc1.\2'),
        (block + r'mlp\.c_proj\.(weight|bias)',
         r'backbone.layers.\1.mlp.fc2.\2'),
        (src + r'ln_post\.(weight|bias)', r'backbone.post_norm.\1'),
        (src + r'proj', 'neck.proj'),
    ]


#: The ViT image tower of a Hugging Face ``ChineseCLIPModel``.
HUGGINGFACE_VIT = [
    (r'vision_model\.embeddings\.class_embedding',
     'backbone.cls_token'),
    (r'vision_model\.embeddings\.patch_embedding\.weight',
     'backbone.patch_embed.weight'),
    (r'vision_model\.embeddings\.position_embedding\.weight',
     'backbone.pos_embed'),
    (r'vision_model\.pre_layrnorm\.(weight|bias)',
     r'backbone.pre_norm.\1'),
    (_HF_BLOCK + r'self_attn\.(?P<part>q|k|v)_proj\.(weight|bias)',
     r'backbone.layers.\1.attn.qkv.\3', QKV),
    (_HF_BLOCK + r'self_attn\.out_proj\.(weight|bias)',
     r'backbone.layers.\1.attn.proj.\2'),
    (_HF_BLOCK + r'layer_norm1\.(weight|bias)',
     r'backbone.layers.\1.ln1.\2'),
    (_HF_BLOCK + r'mlp\.(fc1|fc2)\.(weight|bias)',
     r'backbone.layers.\1.mlp.\2.\3'),
    (_HF_BLOCK + r'layer_norm2\.(weight|bias)',
     r'backbone.layers.\1.ln2.\2'),
    (r'vision_model\.post_layernorm\.(weight|bias)',
     r'backbone.post_norm.\1'),
    (r'visual_projection\.weight', 'neck.proj', 'T'),
]

#: The ViT image tower of mmpretrain's ``ChineseCLIP``.
MMPRETRAIN_VIT = [
    (r'vision_backbone\.patch_embed\.projection\.weight',
     'backbone.patch_embed.weight'),
    (r'vision_backbone\.cls_token', 'backbone.cls_token', 'flatten'),
    (r'vision_backbone\.pos_embed', 'backbone.pos_embed', 'flatten'),
    (r'vision_backbone\.pre_norm\.(weight|bias)',
     r'backbone.pre_norm.\1'),
    (_MMPRETRAIN_BLOCK + r'(ln1|ln2|attn\.qkv|attn\.proj)\.'
     r'(weight|bias)', r'backbone.layers.\1.\2.\3'),
    (_MMPRETRAIN_BLOCK + r'ffn\.layers\.0\.0\.(weight|bias)',
     r'backbone.layers.\1.mlp.fc1.\2'),
    (_MMPRETRAIN_BLOCK + r'ffn\.layers\.1\.(weight|bias)',
     r'backbone.layers.\1.mlp.fc2.\2'),
    (r'vision_backbone\.ln1\.(weight|bias)',
     r'backbone.post_norm.\1'),
    (r'vision_projection', 'neck.proj'),
]


class CheckpointFormat(NamedTuple):
    """One published checkpoint layout.

    Attributes:
        markers (tuple[str]): Key prefixes that identify the layout (after
            ``module.``).
        text (list): Rules of the text side (and the keys to skip).
        vit (list, optional): Rules of a ViT image tower.
        resnet (list, optional): Rules of a ModifiedResNet image tower.
        vit_bare (list, optional): Rules of a ViT image tower saved on its
            own, without the prefix of ``vit`` (open_clip ``model.visual``).
        image_prefixes (tuple[str]): Raw key prefixes of the image tower and
            its projection, to take the image tower alone out of a two-tower
            checkpoint.
        description (str): What the layout is, for help texts.
    """
    markers: Tuple[str, ...]
    text: list
    vit: Optional[list] = None
    resnet: Optional[list] = None
    vit_bare: Optional[list] = None
    image_prefixes: Tuple[str, ...] = ()
    description: str = ''


#: Every supported layout, in detection order: the first whose markers
#: start any key wins. ``open_clip`` comes first (``token_embedding`` only
#: exists in OpenAI/open_clip CLIPs), then ``hf_bert`` (``classifier.`` and
#: bare ``encoder.layer.`` only exist in HF BERT exports), then the Chinese
#: CLIP layouts.
FORMATS = {
    'open_clip': CheckpointFormat(
        markers=('token_embedding.', 'class_embedding', 'conv1.',
                 'transformer.resblocks.'),
        vit=openai_vit_rules('visual.'),
        vit_bare=openai_vit_rules(''),
        resnet=[(r'visual\.(.+)', r'backbone.\1')],
        # The CLIP text transformer of a full OpenAI/open_clip checkpoint:
        # not a tower mmcnclip builds.
        text=[(r'(transformer\..+|token_embedding\..+|positional_embedding|'
               r'ln_final\..+|text_projection|logit_scale|attn_mask)', None,
               'skip')],
        image_prefixes=('visual.', ),
        description='OpenAI/open_clip CLIP (image tower only; e.g. the '
        'Taiyi-CLIP image towers)'),
    'hf_bert': CheckpointFormat(
        markers=('classifier.', 'embeddings.', 'encoder.layer.'),
        text=bert_rules('bert.') + bert_rules('') + [
            (r'classifier\.weight', 'text_proj.proj', 'T'),
            (r'classifier\.bias', 'text_proj.bias'),
        ],
        description='Hugging Face BertModel / BertForSequenceClassification '
        '(text tower only; e.g. the Taiyi-CLIP text towers)'),
    'huggingface': CheckpointFormat(
        markers=('vision_model.', 'text_model.', 'visual_projection.'),
        vit=HUGGINGFACE_VIT,
        text=bert_rules('text_model.') + [
            (r'text_projection\.weight', 'text_proj.proj', 'T'),
            (r'logit_scale', 'logit_scale'),
        ],
        image_prefixes=('vision_model.', 'visual_projection.'),
        description='Hugging Face ChineseCLIPModel (folder or file)'),
    'mmpretrain': CheckpointFormat(
        markers=('vision_backbone.', 'text_backbone.', 'vision_projection'),
        vit=MMPRETRAIN_VIT,
        resnet=[(r'vision_backbone\.(.+)', r'backbone.\1')],
        text=bert_rules('text_backbone.') + [
            (r'text_projection', 'text_proj.proj'),
            (r'logit_scale', 'logit_scale'),
        ],
        image_prefixes=('vision_backbone.', 'vision_projection'),
        description='mmpretrain cn-clip_*_3rdparty_*.pth'),
    'official': CheckpointFormat(
        markers=('visual.', 'bert.'),
        vit=openai_vit_rules('visual.'),
        resnet=[(r'visual\.(.+)', r'backbone.\1')],
        text=bert_rules('bert.') + [
            (r'text_projection', 'text_proj.proj'),
            (r'logit_scale', 'logit_scale'),
        ],
        image_prefixes=('visual.', ),
        description='official cn_clip .pt (clip_cn_*.pt)'),
    'mmcnclip': CheckpointFormat(
        markers=('backbone.', 'neck.', 'text_encoder.', 'text_proj.'),
        # Our own layout, shared by every mmcnclip model: kept as is.
        text=[(r'(backbone|neck|text_encoder|text_proj)\.(.+)', r'\1.\2'),
              (r'logit_scale', 'logit_scale')],
        image_prefixes=('backbone.', 'neck.'),
        description='mmcnclip (ChineseCLIP, ZeroShotClassifier, TaiyiCLIP)'),
}

#: Non-weight buffers some exporters save; dropped silently.
IGNORED_KEYS = r'.*\.(position_ids|token_type_ids)'

#: Converted keys a checkpoint may carry that a model may lack: the BERT
#: pooler is published with Chinese CLIP but unused by it.
OPTIONAL_KEYS = r'text_encoder\.pooler\.(weight|bias)'

#: Keys whose shape may legitimately differ (resized on load).
RESIZABLE_KEYS = r'backbone\.pos_embed'
