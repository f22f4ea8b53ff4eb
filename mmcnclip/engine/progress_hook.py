"""Progress over the test set: samples done / total, samples/s and ETA."""
from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from mmcnclip.registry import HOOKS
from mmcnclip.utils.progress import SLOW_CPU_HINT, Progress


@HOOKS.register_module()
class DatasetProgressHook(Hook):
    """Report test progress over the whole dataset on the main process.

    mmengine's logger reports every ``interval`` iterations, which on CPU
    can be many minutes for a large model. This hook reports the number of
    samples done, the rate and the ETA: a live line on a terminal, plain
    lines every ``interval`` seconds in pipes and log files (never ``\\r``
    updates). When the model runs on CPU and the ETA is long, it says once
    how to go faster. ``tools/test.py`` adds it.

    Args:
        interval (float): Seconds between plain progress lines. Defaults
            to 30.
        hint_eta (float): ETA in seconds above which the CPU hint is
            given. Defaults to 600.
    """

    priority = 'LOW'

    def __init__(self, interval: float = 30.0, hint_eta: float = 600.0):
        self.interval = interval
        self.hint_eta = hint_eta
        self.progress = None

    def before_test_epoch(self, runner) -> None:
        dataset = runner.test_dataloader.dataset
        on_cpu = all(not p.is_cuda for p in runner.model.parameters())
        self.progress = Progress(
            len(dataset),
            'samples' if hasattr(dataset, 'num_texts') else 'images',
            write_line=runner.logger.info, interval=self.interval,
            slow_hint=SLOW_CPU_HINT if on_cpu else None,
            hint_eta=self.hint_eta)

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        if self.progress is None:
            return
        count = len(outputs) if outputs is not None else 1
        # other ranks work on their shares at the same pace
        count *= get_world_size()
        remaining = max(self.progress.total - self.progress.done, 0)
        self.progress.update(min(count, remaining) if
                             self.progress.total else count)

    def after_test_epoch(self, runner, metrics=None) -> None:
        if self.progress is not None:
            self.progress.close()
            self.progress = None
