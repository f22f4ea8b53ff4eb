# Taiyi-CLIP-RoBERTa-326M-ViT-H-Chinese (IDEA-CCNL): the open_clip ViT-H/14
# image tower (LAION-2B, exact GELU, its own 1280->1024 `proj`) and a Chinese
# RoBERTa-wwm-large text tower whose feature is the BERT pooler output
# (tanh(dense([CLS])), 1024-d; no text projection).
# Weights come from two sources, converted and merged on init_weights():
#   image: open_clip_pytorch_model.bin of laion/CLIP-ViT-H-14-laion2B-s32B-b79K
#          (full open_clip state dict; its CLIP text tower is skipped)
#   text:  the HF folder IDEA-CCNL/Taiyi-CLIP-RoBERTa-326M-ViT-H-Chinese
#          (BertModel)
# Tokenizer: the 21128-entry Chinese BERT vocab (packaged), [CLS] ... [SEP],
# padded/truncated to 77 tokens like Taiyi's evaluation code.

image_checkpoint = 'checkpoints/CLIP-ViT-H-14-laion2B-s32B-b79K/open_clip_pytorch_model.bin'  # noqa: E501
text_checkpoint = 'checkpoints/Taiyi-CLIP-RoBERTa-326M-ViT-H-Chinese'
model = dict(
    type='mmcnclip.TaiyiCLIP',
    backbone=dict(
        type='mmcnclip.CLIPVisionTransformer',
        arch='huge',
        img_size=224,
        patch_size=14,
        act='gelu'),
    neck=dict(
        type='mmcnclip.CLIPProjection', in_channels=1280, out_channels=1024),
    text_encoder=dict(
        type='mmcnclip.BertTextEncoder', arch='large', out_type='pooler'),
    text_proj=dict(type='mmcnclip.TextProjection', in_channels=1024),
    context_length=77,
    pretrained=dict(
        image=image_checkpoint,
        text=text_checkpoint,
        image_format='open_clip',
        text_format='hf_bert'),
)
