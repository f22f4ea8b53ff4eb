# Image-text retrieval data in the official Chinese-CLIP layout
# ({split}_texts.jsonl + {split}_imgs.tsv under data_root). Dataset configs
# inherit this and set data_root in every dataloader. `img_size` is read when
# this file is parsed: the 336px configs set the loaders' `pipeline` from
# ./cn-clip_336px_pipelines.py.
data_root = None
img_size = 224

train_pipeline = [
    dict(type='mmcnclip.LoadImagePIL'),
    dict(type='mmcnclip.PILResize', scale=img_size),
    dict(type='mmcnclip.PackImageText'),
]
test_pipeline = train_pipeline

train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    drop_last=True,  # equal batches on every rank for gathered negatives
    dataset=dict(
        type='mmcnclip.CNCLIPTsvRetrieval',
        data_root=data_root,
        split='train',
        verify_images=False,  # checked when read; see skip_bad_rows
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),  # text-only gallery items
    dataset=dict(
        type='mmcnclip.CNCLIPTsvRetrieval',
        data_root=data_root,
        split='valid',
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='mmcnclip.ImageTextRecall')

test_dataloader = val_dataloader
test_evaluator = val_evaluator
val_cfg = dict()
test_cfg = dict()
