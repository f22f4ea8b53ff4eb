# Zero-shot classification, Chinese CLIP ViT-L/14@336px + RoBERTa-base,
# on an ELEVATER-style image folder (label_cn.txt + test/000...).
_base_ = [
    '_base_/models/cn-clip_vit-large-p14-336px_zeroshot-cls.py',
    '_base_/datasets/elevater-folder_cn-clip.py',
    '_base_/datasets/cn-clip_336px_pipelines.py',
    '_base_/default_runtime.py',
]

# Point the dataset at the dataset folder; the model takes its classes
# (label_cn.txt) from the dataset:
#   --cfg-options test_dataloader.dataset.data_root=DIR
# For inference without the dataset pass classes=[...] (inferencer or
# get_model); until then the model holds the CIFAR-100 classes.
data_root = 'data/datasets/cifar-100'

# The 336px model: official PIL bicubic resize to 336x336.
test_pipeline = {{_base_.pipelines_336px.image_folder}}
test_dataloader = dict(
    dataset=dict(pipeline=test_pipeline, data_root=data_root))
