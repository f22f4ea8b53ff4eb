# Taiyi-CLIP-Roberta-102M-Chinese (IDEA-CCNL): the OpenAI CLIP ViT-B/32
# image tower (QuickGELU, 768->512 `proj`) and Chinese RoBERTa-wwm-base
# whose feature is BertForSequenceClassification's logits: the classifier
# (768->512, with bias) on the pooler output.
#   image: OpenAI ViT-B-32.pt state dict (visual.* + CLIP text, skipped) or an
#          open_clip `model.visual` state dict (bare keys)
#   text:  the HF folder IDEA-CCNL/Taiyi-CLIP-Roberta-102M-Chinese
_base_ = ['./taiyi-clip_roberta-large-326m_vit-h-14.py']

image_checkpoint = 'checkpoints/ViT-B-32.pt'
text_checkpoint = 'checkpoints/Taiyi-CLIP-Roberta-102M-Chinese'
model = dict(
    backbone=dict(arch='base', patch_size=32, act='quick_gelu'),
    neck=dict(in_channels=768, out_channels=512),
    text_encoder=dict(arch='base'),
    text_proj=dict(in_channels=768, out_channels=512),
    pretrained=dict(image=image_checkpoint, text=text_checkpoint))
