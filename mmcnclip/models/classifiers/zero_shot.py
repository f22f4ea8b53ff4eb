"""Zero-shot image classifier built from the Chinese CLIP towers."""
from typing import Optional, Tuple, Union

import torch
from mmpretrain.models.classifiers import ImageClassifier

from mmcnclip.checkpoint import LoadsAnyCheckpointLayout
from mmcnclip.registry import MODELS
from mmcnclip.text import get_classnames
from ..data_preprocessor import default_data_preprocessor
from ..text_tower import TextTower
from .class_names import ClassNames, calling_inferencer_classes
from ..inference import PreparesForInference

#: model-level argument -> argument of the head it is passed to.
HEAD_ARGS = {'text_prototype': 'classnames', 'text_prompt': 'templates'}


@MODELS.register_module()
class ZeroShotClassifier(PreparesForInference, LoadsAnyCheckpointLayout,
                         TextTower,
                         ImageClassifier):
    """Chinese CLIP as an mmpretrain image classifier.

    The image tower (``backbone`` and ``neck``) gives the image embedding;
    the text side (``text_encoder``, ``text_proj``, ``logit_scale``,
    tokenizer) lives on the model exactly as in
    :class:`~mmcnclip.models.ChineseCLIP`, so both share one checkpoint
    layout. The head (:class:`~mmcnclip.models.heads.ZeroShotClsHead`) owns
    no tower: it encodes the class prompts with this model's text side,
    caches the prototypes and scores the image embedding against them.
    Accepts exactly the model dicts of ``configs/_base_/models/cn-clip_*.py``
    and loads the official, Hugging Face, mmpretrain and mmcnclip checkpoints
    (see :class:`~mmcnclip.checkpoint.LoadsAnyCheckpointLayout`).

    Class names live in one place, the model: ``classes`` are what it
    predicts (``pred_class`` of mmpretrain's inferencers) and, unless
    ``text_prototype`` gives other prompt names, what it puts into the
    templates. Since :func:`mmpretrain.get_model` merges keyword arguments
    into the model config, ``get_model(name, classes=['猫', '狗'])`` works,
    and so does ``ImageClassificationInferencer(name, classes=[...])``: the
    inferencer's classes become the model's (see
    :func:`~.class_names.calling_inferencer_classes`). A config that names
    no classes takes those of the dataset it runs on
    (:class:`~mmcnclip.engine.DatasetClassesHook`); a dataset with another
    number of classes is an error.

    Args:
        backbone (dict): Image tower.
        text_encoder (dict): Text tower.
        text_proj (dict): Text projection.
        neck (dict, optional): Image projection (None for ModifiedResNet).
            Defaults to None.
        classes (str | list[str], optional): Class names: a built-in set
            name (``'cifar100'``, ``'cifar10'``, ``'imagenet'``), a list or a
            label file. None: those of the dataset (when run by a runner),
            else the head's ``classnames``. Defaults to None.
        text_prototype (str | list[str], optional): Prompt names when they
            differ from ``classes`` (same kind of spec, one per class); they
            are passed to the head as ``classnames``. Defaults to None.
        text_prompt (str | list[str], optional): Templates: ``'openai'``,
            ``'imagenet'``, ``'single'``, a list or a file; passed to the head
            as ``templates``. None keeps the head's value (``'openai'`` by
            default). Defaults to None.
        context_length (int): Tokenizer context length. Defaults to 52.
        vocab_file (str, optional): Vocabulary file. Defaults to None.
        freeze_text (bool): Freeze the text tower (no gradients, eval mode;
            the head then uses cached prototypes in training too). Defaults
            to False.
        head (dict, optional): Further options of the head, e.g.
            ``dict(cache_file='protos.pth')``. Defaults to
            ``dict(type='mmcnclip.ZeroShotClsHead')``.
        data_preprocessor (dict, optional): Defaults to
            ``ClsDataPreprocessor`` with CLIP mean/std on RGB input.
        train_cfg (dict, optional): Batch augmentations, see
            :class:`mmpretrain.models.ImageClassifier`. Defaults to None.
        pretrained (str | dict, optional): Checkpoint loaded at
            ``init_weights``; a dict names an image and a text checkpoint to
            merge (see :meth:`~mmcnclip.checkpoint.LoadsAnyCheckpointLayout.
            set_tower_checkpoints`, e.g. Taiyi-CLIP). Defaults to None.
        inference_precision (str, optional): As for
            :class:`~mmcnclip.models.ChineseCLIP`: the precision of the
            preparation on the first ``test_step``; None keeps the
            unprepared model. Defaults to ``'fp32'``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 text_proj: dict,
                 neck: Optional[dict] = None,
                 classes=None,
                 text_prototype=None,
                 text_prompt=None,
                 context_length: int = 52,
                 vocab_file: Optional[str] = None,
                 freeze_text: bool = False,
                 head: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 pretrained: Union[str, dict, None] = None,
                 inference_precision: Optional[str] = 'fp32',
                 init_cfg: Optional[dict] = None):
        head_cfg = dict(type='mmcnclip.ZeroShotClsHead')
        head_cfg.update(head or {})
        class_names = ClassNames(classes, text_prototype)
        class_names.named |= 'classnames' in head_cfg
        prompts = class_names.prompt_names()
        given = dict(
            text_prototype=None if prompts is None else list(prompts),
            text_prompt=text_prompt)
        for arg, value in given.items():
            if value is None:
                continue
            head_arg = HEAD_ARGS[arg]
            if head_arg in head_cfg:
                raise ValueError(
                    f'ZeroShotClassifier got both model.{arg} and '
                    f'model.head.{head_arg}; set only one of them')
            head_cfg[head_arg] = value
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head_cfg,
            pretrained=None if isinstance(pretrained, dict) else pretrained,
            train_cfg=train_cfg,
            data_preprocessor=default_data_preprocessor(
                data_preprocessor, 'ClsDataPreprocessor'),
            init_cfg=init_cfg)
        if isinstance(pretrained, dict):
            self.set_tower_checkpoints(pretrained)
        self.init_text_tower(text_encoder, text_proj, context_length,
                             vocab_file, freeze_text)
        self.head.bind_text_tower(self)
        self.freeze_modules()
        self.set_inference_precision(inference_precision)
        self.class_names = class_names
        self._other_meta = {}

    # class names ------------------------------------------------------- #
    @property
    def classes(self) -> Tuple[str, ...]:
        """tuple[str]: The names of the classes the model predicts."""
        return self.class_names.names or self.head.classnames

    def set_classes(self, classes) -> None:
        """Predict these classes from now on (also the prompt names unless
        ``text_prototype`` was given).

        Args:
            classes (str | list[str]): Any spec of
                :func:`~mmcnclip.text.get_classnames`.

        Raises:
            ValueError: ``text_prototype`` was given with another number of
                names.
        """
        self.class_names.set(get_classnames(classes))
        if self.class_names.prompts is None:
            self.head.classnames = self.class_names.names

    def adopt_dataset_classes(self, classes, dataset: str) -> bool:
        """Take the dataset's classes if the config names none, else check
        that their number agrees.

        Args:
            classes (Sequence[str]): The dataset's ``metainfo['classes']``.
            dataset (str): How to name the dataset in an error.

        Returns:
            bool: Whether the dataset's classes were taken.

        Raises:
            ValueError: Class counts differ.
        """
        adopted = not self.class_names.named
        if adopted:
            self.set_classes(list(classes))
        self.class_names.check()
        self.class_names.check_dataset(self.head.classnames, classes, dataset)
        return adopted

    @property
    def _dataset_meta(self) -> dict:
        """mmpretrain's ``get_model`` stores the dataset meta here and its
        inferencers read ``classes`` from it: the model's own classes."""
        return dict(self._other_meta, classes=list(self.classes))

    @_dataset_meta.setter
    def _dataset_meta(self, meta: Optional[dict]) -> None:
        self._other_meta = {k: v for k, v in (meta or {}).items()
                            if k != 'classes'}

    def test_step(self, data):
        """``BaseModel.test_step``, scoring the classes of a calling
        mmpretrain inferencer."""
        classes = calling_inferencer_classes(self)
        if classes is not None and classes != tuple(self.classes):
            self.set_classes(list(classes))
        return super().test_step(data)

    def predict(self, inputs: torch.Tensor, data_samples=None, **kwargs):
        """``ImageClassifier.predict`` after checking the class names."""
        self.class_names.check()
        return super().predict(inputs, data_samples, **kwargs)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Projected, unnormalised image features (B, embed_dim)."""
        return self.extract_feat(images)[-1]
