# Zero-shot classification, Chinese CLIP ViT-H/14 + RoBERTa-wwm-ext-large,
# on an ELEVATER-style image folder (label_cn.txt + test/000...).
_base_ = [
    '_base_/models/cn-clip_vit-huge-p14_zeroshot-cls.py',
    '_base_/datasets/elevater-folder_cn-clip.py',
    '_base_/default_runtime.py',
]

# Point the dataset at the dataset folder; the model takes its classes
# (label_cn.txt) from the dataset:
#   --cfg-options test_dataloader.dataset.data_root=DIR
# For inference without the dataset pass classes=[...] (inferencer or
# get_model); until then the model holds the CIFAR-100 classes.
data_root = 'data/datasets/cifar-100'

test_dataloader = dict(
    dataset=dict(data_root=data_root))
