# Zero-shot classification of the held-out shapes with the trained tiny
# model: python tools/test.py configs/shapes/cn-clip_tiny_shapes_zeroshot.py
#            work_dirs/cn-clip_tiny_shapes/iter_400.pth
_base_ = ['./cn-clip_tiny_shapes.py']

model = dict(
    _delete_=True,
    type='mmcnclip.ZeroShotClassifier',
    backbone={{_base_.model.backbone}},
    neck={{_base_.model.neck}},
    text_encoder={{_base_.model.text_encoder}},
    text_proj={{_base_.model.text_proj}},
    context_length=24,
    # the 12 classes of tools/data/make_shapes_dataset.py (label_cn.txt)
    classes=[
        '红色的圆形', '绿色的圆形', '蓝色的圆形', '黄色的圆形',
        '红色的正方形', '绿色的正方形', '蓝色的正方形', '黄色的正方形',
        '红色的三角形', '绿色的三角形', '蓝色的三角形', '黄色的三角形',
    ],
    text_prompt=['一个{}'],
)
test_dataloader = dict(
    _delete_=True,
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='mmcnclip.ZeroShotImageFolder',
        data_root='data/shapes/zeroshot',
        split='test',
        pipeline=[
            dict(type='mmcnclip.LoadImagePIL'),
            dict(type='mmcnclip.PILResize', scale=32),
            dict(type='PackInputs'),
        ]))
test_evaluator = dict(_delete_=True, type='Accuracy', topk=(1, ))
