"""Make ``load_state_dict`` of a top-level model accept every layout."""
import re

from .convert import check_state_dict, convert_state_dict


class LoadsAnyCheckpointLayout:
    """Mixin for top-level mmcnclip models.

    Whatever path loads weights (``load_from``, ``tools/test.py CKPT``,
    ``mmpretrain.get_model(pretrained=...)``, ``init_cfg``, plain
    ``load_state_dict``), the state dict is converted from its detected
    layout, mapped onto this model's key names and checked strictly: a
    checkpoint that does not fit raises
    :class:`~mmcnclip.checkpoint.CheckpointMismatchError`.

    Subclasses set :attr:`layout_prefixes` to relocate the canonical keys,
    e.g. ``{'logit_scale': 'head.logit_scale'}``.
    """
    layout_prefixes: dict = {}

    def _to_model_key(self, key: str) -> str:
        for src, dst in self.layout_prefixes.items():
            if key.startswith(src):
                return dst + key[len(src):]
        return key

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        own = {k[len(prefix):]: state_dict.pop(k)
               for k in list(state_dict) if k.startswith(prefix)}
        # Keys of submodules with nothing to convert (e.g. a data
        # preprocessor) pass through untouched.
        passthrough = {k: own.pop(k) for k in list(own)
                       if re.match(r'data_preprocessor\.', k)}
        converted, fmt = convert_state_dict(own)
        converted = {self._to_model_key(k): v for k, v in converted.items()}
        expected = {k: v.shape for k, v in self.state_dict().items()
                    if not k.startswith('data_preprocessor.')}
        converted = check_state_dict(converted, expected,
                                     source=f'{fmt}-layout checkpoint')
        state_dict.update({prefix + k: v
                           for k, v in {**converted, **passthrough}.items()})
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
