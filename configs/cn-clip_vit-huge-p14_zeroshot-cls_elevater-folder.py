# Zero-shot classification, Chinese CLIP ViT-H/14 + RoBERTa-wwm-ext-large,
# on an ELEVATER-style image folder (label_cn.txt + test/000...).
_base_ = [
    '_base_/models/cn-clip_vit-huge-p14.py',
    '_base_/datasets/elevater-folder_cn-clip.py',
    '_base_/default_runtime.py',
]

# Point both the dataset and the class names at the dataset folder:
#   --cfg-options test_dataloader.dataset.data_root=DIR \
#       model.text_prototype=DIR/label_cn.txt
data_root = 'data/datasets/cifar-100'

model = dict(
    type='mmcnclip.ZeroShotClassifier',
    text_prototype=data_root + '/label_cn.txt',  # set name, list or label file
    text_prompt='openai',  # template set name or list
    # x100 like cn_clip/eval/zeroshot_evaluation.py; None: logit_scale.exp()
    head=dict(score_scale=100.),
)
test_dataloader = dict(
    dataset=dict(data_root=data_root))
