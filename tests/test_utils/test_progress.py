"""Progress reporting: plain lines (no carriage returns) outside terminals,
a live line on terminals, a one-time hint when the ETA is long."""
import io

from mmcnclip.utils import progress as progress_mod
from mmcnclip.utils.progress import Progress, format_seconds


class _Tty(io.StringIO):

    def isatty(self):
        return True


def test_plain_lines_are_throttled_and_have_no_carriage_return(monkeypatch):
    clock = iter(range(0, 1000, 10))  # each call: 10 s later
    monkeypatch.setattr(progress_mod.time, 'monotonic', lambda: next(clock))
    out = io.StringIO()
    bar = Progress(100, 'images', stream=out, interval=25, enabled=True)
    for _ in range(10):
        bar.update(10)
    bar.close()
    text = out.getvalue()
    assert '\r' not in text
    lines = text.splitlines()
    # first update, then at most one line per 25 s, the last item, close
    assert 3 <= len(lines) < 10, lines
    assert lines[0].startswith('10/100 images, ') and 'ETA' in lines[0]
    assert lines[-1].startswith('100/100 images, ') and 'ETA' not in \
        lines[-1]


def test_write_line_receives_plain_lines():
    lines = []
    bar = Progress(3, 'prompts', write_line=lines.append, enabled=True)
    bar.update(3)
    bar.close()
    assert lines and all(line.startswith('3/3 prompts') for line in lines)


def test_terminal_gets_a_live_line():
    out = _Tty()
    bar = Progress(4, stream=out, enabled=True)
    bar.update(2)
    bar.close()
    assert out.getvalue().startswith('\r') and out.getvalue().endswith('\n')


def test_slow_hint_once(monkeypatch):
    clock = iter(range(0, 100000, 30))
    monkeypatch.setattr(progress_mod.time, 'monotonic', lambda: next(clock))
    lines = []
    bar = Progress(10000, write_line=lines.append, slow_hint='use a GPU',
                   hint_after=20, hint_eta=600, enabled=True)
    for _ in range(5):
        bar.update(1)
    hints = [line for line in lines if 'use a GPU' in line]
    assert len(hints) == 1 and hints[0].startswith('ETA ')


def test_disabled_writes_nothing():
    out = io.StringIO()
    bar = Progress(2, stream=out, enabled=False)
    bar.update(2)
    bar.close()
    assert out.getvalue() == ''


def test_format_seconds():
    assert format_seconds(62) == '1:02'
    assert format_seconds(3723) == '1:02:03'
