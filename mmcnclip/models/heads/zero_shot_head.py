"""Zero-shot classification head: class scores from text prototypes."""
from collections import OrderedDict
from typing import Optional, Sequence, Tuple

import torch
from mmpretrain.models.heads import ClsHead
from torch import nn

from mmcnclip.registry import MODELS
from mmcnclip.text import (build_prompts, get_classnames, get_templates,
                           normalize_text)
from mmcnclip.text.prompts import (is_builtin_classnames,
                                   warn_ambiguous_classnames)
from mmcnclip.utils.progress import Progress
from ..fingerprint import weights_digest
from . import prototype_cache as pc

#: In-memory prototype sets kept at once (e.g. evaluation + training ones).
MEMORY_ENTRIES = 2


class TextTowerRef:
    """A non-owning reference to the model that holds the text tower, so
    that its weights are registered (and saved) once, by the model."""

    def __init__(self, owner: nn.Module):
        self.owner = owner


@MODELS.register_module()
class ZeroShotClsHead(ClsHead):
    """Scores images against text prototypes of the class names.

    A prototype is built like the official ``zero_shot_classifier``
    (``cn_clip/eval/zeroshot_evaluation.py``): every prompt
    ``template.format(classname)`` is encoded and L2-normalised, the features
    of a class are averaged over the templates and the mean is
    L2-normalised again. All prompts of all classes are encoded in batches of
    ``text_batch_size``, sorted by token length and padded to the longest
    prompt of the batch (which gives the same features as padding to the
    context length).

    Scores are ``softmax(s * normalize(image) @ prototypes.T)`` with
    ``s = logit_scale.exp()`` (100 for the released checkpoints) or
    ``score_scale`` when given.

    The head owns no text tower: the model that holds one
    (:class:`~mmcnclip.models.ZeroShotClassifier`) binds itself with
    :meth:`bind_text_tower`, and the head encodes prompts with its
    ``tokenizer``/``encode_text`` and scales with its ``logit_scale``.

    Prototypes without gradients are cached. The cache key holds a
    fingerprint of the whole text tower (see
    :func:`~mmcnclip.models.heads.prototype_cache.weights_fingerprint`), the
    class names, the templates, the tokenizer, dtype and device; any change
    rebuilds them. With ``cache_file`` they are also stored on disk, keyed
    by a hash of the weights, class names, templates, vocabulary, context
    length, text normalisation and dtype, so that another run does not
    encode them again; a cache file problem is a warning, never an error.

    In training mode, unless the model's text tower is frozen
    (``freeze_text``), the prototypes of ``train_templates`` are computed
    with gradients at every forward, so that :meth:`loss` (cross-entropy on
    the scaled similarities) finetunes the text tower as well.

    Args:
        classnames (str | list[str]): Spec accepted by
            :func:`~mmcnclip.text.get_classnames`: a built-in set name
            (``'cifar100'``, ``'cifar10'``, ``'imagenet'``), a list of class
            names or a label file. Defaults to ``'cifar100'``.
        templates (str | list[str]): Spec accepted by
            :func:`~mmcnclip.text.get_templates`: ``'openai'`` (183),
            ``'imagenet'`` (80), ``'single'``, a list or a file. Defaults to
            ``'openai'``.
        train_templates (str | list[str], optional): Templates of the
            prototypes used in training mode. None means ``'single'`` when
            the text tower is trained and ``templates`` when it is frozen.
            Defaults to None.
        text_batch_size (int): Prompts encoded per forward of the text tower.
            Defaults to 512.
        cache_file (str, optional): File to store/reuse prototypes across
            runs. Defaults to None.
        score_scale (float, optional): Constant replacing
            ``logit_scale.exp()`` in the scores (the official evaluation
            script multiplies by 100). Defaults to None.
        progress (bool): Show a progress bar (main process only) while
            building prototypes. Defaults to True.
        loss (dict): Classification loss. Defaults to
            ``dict(type='CrossEntropyLoss', loss_weight=1.0)``.
        topk (int | tuple[int]): Top-k accuracy in training logs. Defaults
            to ``(1, )``.
        cal_acc (bool): Log training accuracy. Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 classnames='cifar100',
                 templates='openai',
                 train_templates=None,
                 text_batch_size: int = 512,
                 cache_file: Optional[str] = None,
                 score_scale: Optional[float] = None,
                 progress: bool = True,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 topk=(1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            loss=loss, topk=topk, cal_acc=cal_acc, init_cfg=init_cfg)
        if text_batch_size < 1:
            raise ValueError(f'text_batch_size must be >= 1, got '
                             f'{text_batch_size}')
        self._text = None
        self.classnames = classnames
        self.templates = templates
        self.train_templates = train_templates
        self.text_batch_size = text_batch_size
        self.cache_file = cache_file
        self.score_scale = score_scale
        self.progress = progress
        self._memory = OrderedDict()
        self._digests = {}

    # ------------------------------------------------------------------ #
    # the text side of the model
    # ------------------------------------------------------------------ #
    def bind_text_tower(self, owner: nn.Module) -> None:
        """Use the text side of ``owner`` (a module with ``tokenizer``,
        ``encode_text``, ``text_modules``, ``text_proj``, ``logit_scale``
        and ``freeze_text``, see :class:`~mmcnclip.models.text_tower.
        TextTower`); it is not registered as a submodule of the head."""
        self._text = TextTowerRef(owner)
        self._warn_ambiguous_classnames()

    @property
    def text_tower(self) -> nn.Module:
        """The model whose text side encodes the prompts."""
        if self._text is None:
            raise RuntimeError(
                'ZeroShotClsHead owns no text tower: build it inside '
                'mmcnclip.ZeroShotClassifier, or call '
                'head.bind_text_tower(model) with a model that has one')
        return self._text.owner

    @property
    def logit_scale(self) -> nn.Parameter:
        """The learned log temperature of the text side."""
        return self.text_tower.logit_scale

    # ------------------------------------------------------------------ #
    # class names and templates (resolved once, when set)
    # ------------------------------------------------------------------ #
    @property
    def classnames(self) -> Tuple[str, ...]:
        """tuple[str]: Class names; assign any spec of ``get_classnames``."""
        return self._classnames

    @classnames.setter
    def classnames(self, spec) -> None:
        self._classnames = tuple(get_classnames(spec))
        self._check_names = not is_builtin_classnames(spec)
        if self._text is not None:
            self._warn_ambiguous_classnames()

    def _warn_ambiguous_classnames(self) -> None:
        """Warn about user class names the text tower cannot tell apart
        (needs the tokenizer: run when both are known)."""
        if self._check_names:
            warn_ambiguous_classnames(self._classnames, self._class_tokens)

    def _class_tokens(self, name: str) -> tuple:
        """What the text tower sees of a class name (its token ids)."""
        return tuple(self.text_tower.tokenizer.tokenize_to_ids(
            normalize_text(name)))

    @property
    def templates(self) -> Tuple[str, ...]:
        """tuple[str]: Evaluation templates; assign any ``get_templates``
        spec."""
        return self._templates

    @templates.setter
    def templates(self, spec) -> None:
        self._templates = tuple(get_templates(spec))

    @property
    def train_templates(self) -> Tuple[str, ...]:
        """tuple[str]: Templates of the training-mode prototypes (by
        default :attr:`templates` when the text tower is frozen, else
        ``'single'``)."""
        if self._train_templates is not None:
            return self._train_templates
        if self.text_tower.freeze_text:
            return self._templates
        return tuple(get_templates('single'))

    @train_templates.setter
    def train_templates(self, spec) -> None:
        self._train_templates = (None if spec is None else tuple(
            get_templates(spec)))

    @property
    def num_classes(self) -> int:
        """int: Number of classes."""
        return len(self._classnames)

    # ------------------------------------------------------------------ #
    # prototypes
    # ------------------------------------------------------------------ #
    def encode_prototypes(self,
                          classnames: Sequence[str],
                          templates: Sequence[str],
                          progress: bool = False) -> torch.Tensor:
        """Encode prototypes (no caching; gradients follow the grad mode).

        Args:
            classnames (Sequence[str]): Class names.
            templates (Sequence[str]): Templates with one ``{}`` each.
            progress (bool): Show a progress bar on the main process.
                Defaults to False.

        Returns:
            Tensor: L2-normalised prototypes (num_classes, embed_dim), fp32.
        """
        tower = self.text_tower
        prompts = [normalize_text(p)
                   for p in build_prompts(classnames, templates)]
        ids = tower.tokenizer(prompts)
        lengths = (ids != tower.tokenizer.pad_id).sum(dim=1)
        order = torch.argsort(lengths, stable=True)
        bar = Progress(len(prompts), 'prompts') if progress else None
        chunks = []
        for start in range(0, len(prompts), self.text_batch_size):
            index = order[start:start + self.text_batch_size]
            width = int(lengths[index].max())
            feats = tower.encode_text(ids[index, :width]).float()
            chunks.append(feats / feats.norm(dim=-1, keepdim=True))
            if bar is not None:
                bar.update(len(index))
        if bar is not None:
            bar.close()
        feats = torch.empty(
            len(prompts), chunks[0].shape[-1], device=chunks[0].device)
        feats = feats.index_copy(0, order.to(feats.device), torch.cat(chunks))
        protos = feats.view(len(classnames), len(templates), -1).mean(dim=1)
        return protos / protos.norm(dim=-1, keepdim=True)

    def _fingerprint(self) -> tuple:
        return pc.weights_fingerprint(self.text_tower.text_modules())

    def _from_file(self, fingerprint, classnames, templates):
        """Prototypes from ``cache_file`` (computed and stored on a miss)."""
        digest = self._digests.get(fingerprint)
        if digest is None:
            digest = weights_digest(self.text_tower.text_modules())
            self._digests = {fingerprint: digest}
        tower = self.text_tower
        request = pc.make_request(
            digest, classnames, templates,
            pc.tokenizer_fingerprint(tower.tokenizer),
            pc.normalisation_fingerprint(normalize_text),
            next(tower.text_encoder.parameters()).dtype)
        return pc.cached_prototypes(
            self.cache_file, request,
            lambda: self.encode_prototypes(classnames, templates,
                                           self.progress),
            self.logit_scale.device)

    def get_prototypes(self, templates: Optional[Sequence[str]] = None
                       ) -> torch.Tensor:
        """Cached prototypes of :attr:`classnames` (no gradients).

        Args:
            templates (Sequence[str], optional): Defaults to
                :attr:`templates`.

        Returns:
            Tensor: (num_classes, embed_dim), fp32, on the text tower device.
        """
        templates = self._templates if templates is None else tuple(templates)
        fingerprint = self._fingerprint()
        key = (fingerprint, self._classnames, templates,
               id(self.text_tower.tokenizer),
               self.text_tower.tokenizer.context_length)
        protos = self._memory.get(key)
        if protos is None:
            with torch.no_grad():
                if self.cache_file:
                    protos = self._from_file(fingerprint, self._classnames,
                                             templates)
                else:
                    protos = self.encode_prototypes(
                        self._classnames, templates, self.progress)
            self._memory[key] = protos
            while len(self._memory) > MEMORY_ENTRIES:
                self._memory.pop(next(iter(self._memory)))
        return protos

    def clear_cache(self) -> None:
        """Drop the in-memory prototypes (the cache file is kept)."""
        self._memory.clear()

    # ------------------------------------------------------------------ #
    # scores
    # ------------------------------------------------------------------ #
    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """L2-normalised image embedding (the last of ``feats``)."""
        img = feats[-1]
        return img / img.norm(dim=-1, keepdim=True)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """Scaled cosine similarities of shape (B, num_classes)."""
        img = self.pre_logits(feats)
        if self.training:
            if self.text_tower.freeze_text or not torch.is_grad_enabled():
                protos = self.get_prototypes(self.train_templates)
            else:
                protos = self.encode_prototypes(self._classnames,
                                                self.train_templates)
        else:
            protos = self.get_prototypes()
        if protos.shape[-1] != img.shape[-1]:
            raise ValueError(
                f'Image embedding width {img.shape[-1]} does not match the '
                f'text prototype width {protos.shape[-1]}: check the neck '
                'and text_proj out_channels')
        scale = (self.logit_scale.exp()
                 if self.score_scale is None else self.score_scale)
        return scale * img @ protos.to(img.device, img.dtype).t()
