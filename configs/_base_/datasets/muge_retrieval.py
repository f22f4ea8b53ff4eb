# MUGE retrieval (e-commerce; a text may match several images), official Chinese-CLIP layout:
#   data/datasets/MUGE/{train,valid,test}_texts.jsonl + _imgs.tsv
# For the LMDB of cn_clip/preprocess/build_lmdb_dataset.py (under
# data/datasets/MUGE/lmdb/{train,valid,test}) switch the type only:
#   --cfg-options train_dataloader.dataset.type=mmcnclip.CNCLIPLmdbRetrieval
#   val_dataloader.dataset.type=... test_dataloader.dataset.type=... (same)
_base_ = ['./cn-clip_tsv_retrieval.py']

data_root = 'data/datasets/MUGE'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
