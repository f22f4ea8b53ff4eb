"""A test-loop timer: when each test batch ends, written to a JSON file."""
import json
import time

from mmengine.hooks import Hook

from mmcnclip.registry import HOOKS


@HOOKS.register_module()
class TestTimerHook(Hook):
    """Record ``time.perf_counter()`` at the start of the test loop and at
    the end of every test batch (with its size) into ``out_file``, so that a
    benchmark can separate the first batch (which prepares the model and
    builds the text prototypes) from steady-state throughput.

    Args:
        out_file (str): JSON file written after the test loop.
    """

    priority = 'VERY_HIGH'

    def __init__(self, out_file: str):
        self.out_file = out_file
        self.record = dict(start=None, batches=[])

    def before_test_epoch(self, runner) -> None:
        self.record['start'] = time.perf_counter()

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self.record['batches'].append((time.perf_counter(), len(outputs)))

    def after_test_epoch(self, runner, metrics=None) -> None:
        with open(self.out_file, 'w') as f:
            json.dump(self.record, f)
