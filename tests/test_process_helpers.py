"""The shared process helpers fail with the children's output, kill whole
process trees on timeout and carry worker results and tracebacks back."""
import socket
import sys
import time

import pytest
from helpers.processes import free_port, run, spawn_workers


def test_run_failure_shows_stdout_and_stderr():
    with pytest.raises(AssertionError) as info:
        run([sys.executable, '-c',
             'import sys; print("to stdout"); sys.exit("to stderr")'])
    text = str(info.value)
    assert 'exit status 1' in text
    assert 'to stdout' in text and 'to stderr' in text


def test_run_timeout_kills_the_tree_and_shows_output(tmp_path):
    marker = tmp_path / 'grandchild_alive'
    # The child starts a grandchild that would create the marker later.
    code = ('import subprocess, sys; print("started", flush=True); '
            'subprocess.Popen([sys.executable, "-c", "import time; '
            f'time.sleep(4); open({str(marker)!r}, \\"w\\")"]); '
            'import time; time.sleep(60)')
    start = time.monotonic()
    with pytest.raises(AssertionError, match='timed out') as info:
        run([sys.executable, '-c', code], timeout=2)
    assert time.monotonic() - start < 30
    assert 'started' in str(info.value)
    time.sleep(5)
    assert not marker.exists()


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as s:
        s.bind(('127.0.0.1', port))


def _square_or_fail(rank, fail_rank):
    import torch
    if rank == fail_rank:
        raise ValueError(f'rank {rank} broke')
    return {'value': torch.full((2, ), float(rank))**2}


def test_spawn_workers_results_and_errors():
    results = spawn_workers(_square_or_fail, 2, -1)
    assert sorted(results) == [0, 1]
    assert type(results[1]['value']).__module__ == 'numpy'
    assert results[1]['value'].tolist() == [1.0, 1.0]
    with pytest.raises(AssertionError, match='rank 1 broke'):
        spawn_workers(_square_or_fail, 2, 1)
