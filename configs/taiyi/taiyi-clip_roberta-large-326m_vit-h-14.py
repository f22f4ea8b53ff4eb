# Taiyi-CLIP-RoBERTa-326M-ViT-H-Chinese (IDEA-CCNL), built from its two
# published towers (see the model config).
_base_ = ['../_base_/models/taiyi-clip_roberta-large-326m_vit-h-14.py']
custom_imports = dict(imports=['mmcnclip'], allow_failed_imports=False)
default_scope = 'mmpretrain'
