# Chinese CLIP ViT-B/16 + RoBERTa-wwm-ext-base (official weights: clip_cn_vit-b-16.pt)
model = dict(
    type='mmcnclip.ChineseCLIP',
    backbone=dict(
        type='mmcnclip.CLIPVisionTransformer',
        arch='base',
        img_size=224,
        patch_size=16),
    neck=dict(type='mmcnclip.CLIPProjection', in_channels=768, out_channels=512),
    text_encoder=dict(type='mmcnclip.BertTextEncoder', arch='base'),
    text_proj=dict(
        type='mmcnclip.CLIPProjection', in_channels=768, out_channels=512),
)
