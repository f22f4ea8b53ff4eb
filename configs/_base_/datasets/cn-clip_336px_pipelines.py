# Image pipelines of the 336px model (ViT-L/14@336px): the official PIL
# bicubic resize to 336x336, one per dataset family (the steps of the
# dataset bases, at 336).
#
# The dataset bases read `img_size` when they are parsed, and a sibling base
# may not redefine their keys: a 336px config lists this file next to its
# dataset base and takes its pipeline by name, e.g.
#   test_pipeline = {{_base_.pipelines_336px.cifar}}
#   test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
pipelines_336px = dict(
    # cifar100_cn-clip.py, cifar10_cn-clip.py
    cifar=[
        dict(type='mmcnclip.LoadImagePIL'),  # CIFAR arrays are BGR -> RGB
        dict(type='mmcnclip.PILResize', scale=336),
        dict(type='PackInputs'),
    ],
    # imagenet-cn_cn-clip.py, elevater-folder_cn-clip.py
    image_folder=[
        dict(type='mmcnclip.LoadImagePIL', convert_rgb=True),
        dict(type='mmcnclip.PILResize', scale=336),
        dict(type='PackInputs'),
    ],
    # cn-clip_tsv_retrieval.py and its datasets
    retrieval=[
        dict(type='mmcnclip.LoadImagePIL'),
        dict(type='mmcnclip.PILResize', scale=336),
        dict(type='mmcnclip.PackImageText'),
    ],
)
