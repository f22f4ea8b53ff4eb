"""Progress over long loops: done / total, items/s and ETA.

A terminal gets one live line (carriage-return updates, a few per second);
anything else (a pipe, a log file, CI) gets plain lines at most every
``interval`` seconds, so that log files never fill with ``\\r`` updates.
Only the main process of a distributed run reports.
"""
import sys
import time
from typing import Callable, Optional

from mmengine.dist import is_main_process

#: Seconds between plain progress lines when the output is not a terminal.
LOG_INTERVAL = 30.0
#: Seconds between live-line redraws on a terminal.
TTY_INTERVAL = 0.5


def format_seconds(seconds: float) -> str:
    """``'1:02:03'`` / ``'2:03'`` for a duration in seconds."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return (f'{hours}:{minutes:02d}:{secs:02d}' if hours else
            f'{minutes}:{secs:02d}')


class Progress:
    """Report progress of ``total`` items (main process only).

    Args:
        total (int): Number of items (0 when unknown: no ETA).
        desc (str): What is counted, e.g. ``'images'``.
        stream (file, optional): Where to write; ``sys.stderr`` when None.
        write_line (callable, optional): Called with each plain (non-tty)
            line instead of writing it to ``stream``, e.g. a logger's
            ``info`` so that lines land in the log file too.
        interval (float): Seconds between plain lines. Defaults to
            :data:`LOG_INTERVAL`.
        slow_hint (str, optional): Said once, after ``hint_after`` seconds,
            when the ETA is longer than ``hint_eta`` seconds (e.g. the
            faster options on CPU).
        hint_after (float): Seconds of measurement before judging the ETA.
            Defaults to 20.
        hint_eta (float): ETA in seconds that counts as long. Defaults to
            600.
        enabled (bool, optional): Force reporting on/off; by default only
            the main process reports.
    """

    def __init__(self,
                 total: int,
                 desc: str = 'images',
                 stream=None,
                 write_line: Optional[Callable[[str], None]] = None,
                 interval: float = LOG_INTERVAL,
                 slow_hint: Optional[str] = None,
                 hint_after: float = 20.0,
                 hint_eta: float = 600.0,
                 enabled: Optional[bool] = None):
        self.total = int(total or 0)
        self.desc = desc
        self.stream = sys.stderr if stream is None else stream
        self.write_line = write_line
        self.interval = interval
        self.slow_hint = slow_hint
        self.hint_after = hint_after
        self.hint_eta = hint_eta
        self.enabled = is_main_process() if enabled is None else enabled
        isatty = getattr(self.stream, 'isatty', None)
        self.live = bool(isatty and isatty())
        self.done = 0
        self.start = time.monotonic()
        self._last = None  # time of the last report
        self._closed = False

    def message(self) -> str:
        """The current status line (no line ending)."""
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        done = (f'{self.done}/{self.total}' if self.total else
                str(self.done))
        text = f'{done} {self.desc}, {rate:.1f} {self.desc}/s'
        if self.total and rate > 0 and self.done < self.total:
            text += f', ETA {format_seconds((self.total - self.done) / rate)}'
        return text + f', elapsed {format_seconds(elapsed)}'

    def eta(self) -> Optional[float]:
        """Seconds left at the current rate (None before any item)."""
        elapsed = time.monotonic() - self.start
        if not self.total or not self.done:
            return None
        return (self.total - self.done) * elapsed / self.done

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items and report when it is time."""
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        wait = TTY_INTERVAL if self.live else self.interval
        if self._last is None or now - self._last >= wait or (
                self.total and self.done >= self.total):
            self._last = now
            self._emit(self.message(), final=False)
        if self.slow_hint and now - self.start >= self.hint_after:
            eta = self.eta()
            if eta is not None and eta > self.hint_eta:
                self._emit(f'ETA {format_seconds(eta)} for {self.total} '
                           f'{self.desc}: {self.slow_hint}', final=True)
            self.slow_hint = None  # judged once

    def close(self) -> None:
        """Report the final count (once)."""
        if self._closed or not self.enabled:
            return
        self._closed = True
        self._emit(self.message(), final=True)

    def _emit(self, text: str, final: bool) -> None:
        if self.live:
            end = '\n' if final else ''
            self.stream.write(f'\r\033[K{text}{end}')
            self.stream.flush()
        elif self.write_line is not None:
            self.write_line(text)
        else:
            self.stream.write(text + '\n')
            self.stream.flush()


#: Said once when a CPU run's ETA is long.
SLOW_CPU_HINT = (
    'this is a long run on CPU. Faster: fold and fuse the model for '
    'inference (tools/test.py and tools/extract_features.py --prepare fp32 '
    '(same results) or --prepare bf16; in Python '
    'mmcnclip.models.inference.prepare_for_inference), or use a GPU.')
