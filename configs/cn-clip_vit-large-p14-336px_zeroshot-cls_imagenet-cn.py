# Zero-shot classification, Chinese CLIP ViT-L/14@336px + RoBERTa-base,
# on ImageNet validation set with Chinese class names.
_base_ = [
    '_base_/models/cn-clip_vit-large-p14-336px_zeroshot-cls.py',
    '_base_/datasets/imagenet-cn_cn-clip.py',
    '_base_/datasets/cn-clip_336px_pipelines.py',
    '_base_/default_runtime.py',
]

model = dict(
    classes='imagenet',  # set name, list or label file
    text_prompt='imagenet',  # template set name or list
)

# The 336px model: official PIL bicubic resize to 336x336.
test_pipeline = {{_base_.pipelines_336px.image_folder}}
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
