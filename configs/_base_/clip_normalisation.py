# CLIP's RGB mean and std for OpenMMLab data preprocessors, which take 0-255
# pixels: mmcnclip.models.data_preprocessor.CLIP_MEAN / CLIP_STD x255 (the
# values mmcnclip's own models use; tests/test_models/test_data_preprocessor.py
# checks they agree). Configs whose models are not mmcnclip's (mmdet, mmseg,
# mmpretrain's ImageClassifier) list this file in `_base_` and write
#   data_preprocessor=dict(
#       mean={{_base_.clip_mean}}, std={{_base_.clip_std}}, ...)
clip_mean = [122.770938, 116.7460125, 104.09373615]
clip_std = [68.5005327, 66.6321579, 70.32316305]
