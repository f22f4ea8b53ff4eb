"""Make ``load_state_dict`` of a top-level model accept every layout."""
import re
from typing import Optional

from .convert import check_state_dict, convert_state_dict
from .taiyi import merge_two_tower_checkpoints

#: Keys of a two-tower ``pretrained`` dict (see ``set_tower_checkpoints``).
TOWER_CHECKPOINT_KEYS = ('image', 'text', 'image_format', 'text_format',
                         'logit_scale')


class LoadsAnyCheckpointLayout:
    """Mixin for top-level mmcnclip models.

    Whatever path loads weights (``load_from``, ``tools/test.py CKPT``,
    ``mmpretrain.get_model(pretrained=...)``, ``init_cfg``, plain
    ``load_state_dict``), the state dict is converted from its detected
    layout and checked strictly against this model's keys (every mmcnclip
    model uses the one mmcnclip layout): a checkpoint that does not fit
    raises :class:`~mmcnclip.checkpoint.CheckpointMismatchError`.

    Models whose towers are published separately (Taiyi-CLIP) name both
    checkpoints with :meth:`set_tower_checkpoints`; they are merged and
    loaded at ``init_weights``.
    """
    tower_checkpoints: Optional[dict] = None

    def set_tower_checkpoints(self, spec: dict) -> None:
        """Name an image and a text checkpoint to merge at ``init_weights``.

        Args:
            spec (dict): ``image`` and ``text`` (files or HF folders), and
                optionally ``image_format`` (e.g. ``'open_clip'``),
                ``text_format`` (e.g. ``'hf_bert'``) and ``logit_scale``
                (used when the image checkpoint has none), the arguments of
                :func:`~mmcnclip.checkpoint.taiyi.merge_two_tower_checkpoints`.
        """
        missing = {'image', 'text'} - set(spec)
        unknown = set(spec) - set(TOWER_CHECKPOINT_KEYS)
        if missing or unknown:
            raise ValueError(
                f'{type(self).__name__}: a two-tower pretrained dict needs '
                f'`image` and `text` and accepts {TOWER_CHECKPOINT_KEYS}; '
                f'missing {sorted(missing)}, unknown {sorted(unknown)}')
        self.tower_checkpoints = dict(spec)

    def init_weights(self):
        """Load and merge :attr:`tower_checkpoints`, or initialise."""
        if self.tower_checkpoints is None:
            super().init_weights()
            return
        cfg = dict(self.tower_checkpoints)
        merged = merge_two_tower_checkpoints(
            cfg.pop('image'), cfg.pop('text'), **cfg)
        # Through _load_from_state_dict below: strict key/shape check.
        self.load_state_dict(merged)
        self.is_init = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        own = {k[len(prefix):]: state_dict.pop(k)
               for k in list(state_dict) if k.startswith(prefix)}
        # Keys of submodules with nothing to convert (e.g. a data
        # preprocessor) pass through untouched.
        passthrough = {k: own.pop(k) for k in list(own)
                       if re.match(r'data_preprocessor\.', k)}
        converted, fmt = convert_state_dict(own)
        expected = {k: v.shape for k, v in self.state_dict().items()
                    if not k.startswith('data_preprocessor.')}
        converted = check_state_dict(converted, expected,
                                     source=f'{fmt}-layout checkpoint')
        state_dict.update({prefix + k: v
                           for k, v in {**converted, **passthrough}.items()})
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
