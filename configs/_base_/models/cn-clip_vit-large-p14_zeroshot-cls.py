# The zero-shot classifier on these towers, scored like the official
# evaluation; task configs add the dataset (whose classes the model takes)
# or model.classes.
_base_ = ['./cn-clip_vit-large-p14.py']

model = dict(
    type='mmcnclip.ZeroShotClassifier',
    text_prompt='openai',  # template set name or list
    # x100 like cn_clip/eval/zeroshot_evaluation.py; None: logit_scale.exp()
    head=dict(score_scale=100.),
)
