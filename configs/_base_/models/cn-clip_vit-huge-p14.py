# Chinese CLIP ViT-H/14 + RoBERTa-wwm-ext-large (official weights: clip_cn_vit-h-14.pt)
model = dict(
    type='mmcnclip.ChineseCLIP',
    backbone=dict(
        type='mmcnclip.CLIPVisionTransformer',
        arch='huge',
        img_size=224,
        patch_size=14),
    neck=dict(
        type='mmcnclip.CLIPProjection', in_channels=1280, out_channels=1024),
    text_encoder=dict(type='mmcnclip.BertTextEncoder', arch='large'),
    text_proj=dict(
        type='mmcnclip.CLIPProjection', in_channels=1024, out_channels=1024),
)
