"""One place for tests that spawn processes or need a free port.

Every test that starts a subprocess (a CLI tool, ``dist_test.sh``, a script
of the official package) or worker processes (a two-rank gloo group) goes
through this module, so that all of them

* get a timeout sized for a loaded 2-core CI machine (:data:`TIMEOUT`,
  overridable with ``MMCNCLIP_TEST_TIMEOUT`` in seconds) that only guards
  against hangs and is never a performance assertion;
* kill the whole process tree on timeout (``torch.distributed.run`` forks
  its ranks: killing only the launcher would leave them running and holding
  the output pipes);
* fail with the command, the exit status and the tail of the children's
  stdout and stderr instead of a bare ``TimeoutExpired`` or exit code;
* never send torch tensors between processes: a tensor put on a
  ``multiprocessing`` queue is shared through a file descriptor that the
  receiver fetches from the *sender's* process, which fails with
  ``ConnectionResetError`` when the sender has already exited (a race lost
  under load). :func:`spawn_workers` converts results to NumPy/Python data
  inside the worker.

Usage::

    from helpers.processes import free_port, run, run_tool, spawn_workers

    log = run_tool('test.py', cfg, ckpt, '--out', out)   # stdout + stderr
    run(['bash', 'tools/dist_test.sh', cfg, ckpt, '2'],
        env=dict(PORT=str(free_port())))
    results = spawn_workers(_worker, 2, tmp_dir)          # {rank: result}
"""
import errno
import os
import os.path as osp
import random
import signal
import socket
import subprocess
import sys
import time
import traceback

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Seconds a spawned tool or worker group may run before it is killed: a
#: guard against hangs, generous for tiny models on a busy 2-core machine
#: (runs take seconds to a few minutes there).
TIMEOUT = float(os.environ.get('MMCNCLIP_TEST_TIMEOUT', 1200))

#: Characters of each output stream shown when a child fails.
TAIL = 6000

#: Ports above the kernel's ephemeral range (``ip_local_port_range``,
#: 32768-60999 on Linux) are handed out by ``free_port``: gloo and any
#: client socket take ephemeral ports, so a port picked from that range can
#: be taken again between the check and the use.
_PORT_RANGE = (20000, 32000)


def free_port(attempts: int = 100) -> int:
    """A TCP port on 127.0.0.1 that is free now.

    Picked at random outside the ephemeral range so that concurrent test
    runs and the sockets of running gloo groups rarely collide with it.

    Returns:
        int: The port number.
    """
    for _ in range(attempts):
        port = random.randint(*_PORT_RANGE)
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
                continue
            return port
    raise RuntimeError(f'no free port in {_PORT_RANGE} after {attempts} '
                       'attempts')


def _tail(text) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors='replace')
    text = text or ''
    return text if len(text) <= TAIL else '...' + text[-TAIL:]


def _report(cmd, what: str, stdout, stderr) -> str:
    return (f'{what}: {subprocess.list2cmdline(map(str, cmd))}\n'
            f'--- stdout (tail) ---\n{_tail(stdout)}\n'
            f'--- stderr (tail) ---\n{_tail(stderr)}')


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(cmd, *, cwd=REPO, env: dict = None, timeout: float = None,
        threads: int = 1, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``cmd`` in its own process group and capture its output.

    Args:
        cmd (list): The command and its arguments.
        cwd (str): Working directory. Defaults to the repository root.
        env (dict, optional): Variables added to the current environment.
            The repository is always put first on ``PYTHONPATH`` so that
            tools import this checkout's ``mmcnclip``.
        timeout (float, optional): Seconds before the process tree is
            killed and the test fails. Defaults to :data:`TIMEOUT`.
        threads (int): ``OMP_NUM_THREADS`` of the child (1 keeps two ranks
            from oversubscribing two cores).
        check (bool): Fail the test if the exit status is not 0.

    Returns:
        subprocess.CompletedProcess: With text ``stdout`` and ``stderr``.
    """
    timeout = TIMEOUT if timeout is None else timeout
    full_env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    full_env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO, os.environ.get('PYTHONPATH')) if p)
    full_env.update(env or {})
    start = time.monotonic()
    proc = subprocess.Popen(
        [str(c) for c in cmd], cwd=str(cwd), env=full_env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        stdout, stderr = proc.communicate()
        raise AssertionError(_report(
            cmd, f'timed out after {time.monotonic() - start:.0f} s '
            f'(limit {timeout:.0f} s, MMCNCLIP_TEST_TIMEOUT)', stdout,
            stderr)) from None
    finally:
        _kill_group(proc)  # no stray grandchildren outlive the test
    if check and proc.returncode != 0:
        raise AssertionError(_report(
            cmd, f'exit status {proc.returncode} after '
            f'{time.monotonic() - start:.0f} s', stdout, stderr))
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def run_tool(name: str, *args, with_stderr: bool = True, **kwargs) -> str:
    """Run ``tools/<name>`` (a ``.py`` with this Python, a ``.sh`` with
    bash) through :func:`run` and return its output.

    Args:
        name (str): Path of the tool below ``tools/``.
        *args: Its command-line arguments.
        with_stderr (bool): Return stdout followed by stderr (mmengine logs
            to both); otherwise stdout only (for tools printing results).
        **kwargs: Passed to :func:`run` (``cwd``, ``env``, ``timeout``,
            ``threads``).

    Returns:
        str: The captured output.
    """
    path = osp.join(REPO, 'tools', name)
    runner = ['bash'] if name.endswith('.sh') else [sys.executable]
    env = dict(PYTHON=sys.executable, **kwargs.pop('env', None) or {})
    out = run([*runner, path, *args], env=env, **kwargs)
    return out.stdout + out.stderr if with_stderr else out.stdout


def to_plain(obj):
    """``obj`` with every torch tensor replaced by a NumPy array (recursing
    into dicts, lists and tuples), safe to send between processes."""
    import torch
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_plain(v) for v in obj)
    return obj


def _worker_main(target, rank, args, queue):
    try:
        result = ('ok', to_plain(target(rank, *args)))
    except BaseException:  # report anything, including SystemExit
        result = ('error', traceback.format_exc())
    queue.put((rank, result))
    # Let the queue's feeder thread flush before the process exits.
    queue.close()
    queue.join_thread()


def spawn_workers(target, nprocs: int, *args, timeout: float = None) -> dict:
    """Run ``target(rank, *args)`` in ``nprocs`` spawned processes.

    ``target`` must be a module-level function. Its return value is sent
    back as NumPy/Python data (torch tensors are converted in the worker);
    an exception in a worker fails the test with that worker's traceback,
    and a worker that dies without a result fails it with its exit code.

    Args:
        target (callable): ``target(rank, *args)``, e.g. one rank of a gloo
            group (give it a ``file://`` ``init_method`` in a temporary
            directory to need no port at all).
        nprocs (int): Number of processes.
        *args: Picklable arguments after the rank.
        timeout (float, optional): Seconds for the whole group. Defaults to
            :data:`TIMEOUT`.

    Returns:
        dict: ``{rank: result}``.
    """
    import multiprocessing
    import queue as queue_lib
    timeout = TIMEOUT if timeout is None else timeout
    ctx = multiprocessing.get_context('spawn')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker_main, args=(target, r, args, queue),
                         daemon=True) for r in range(nprocs)]
    for p in procs:
        p.start()
    results = {}
    deadline = time.monotonic() + timeout
    try:
        while len(results) < nprocs:
            try:
                rank, (status, value) = queue.get(timeout=1)
            except queue_lib.Empty:
                dead = [(r, p.exitcode) for r, p in enumerate(procs)
                        if p.exitcode not in (None, 0) and r not in results]
                if dead:
                    # give the queue a moment: a worker that reported an
                    # error exits with 0, one that crashed reports nothing
                    time.sleep(1)
                    if queue.empty():
                        raise AssertionError(
                            f'worker(s) died without a result '
                            f'(rank, exit code): {dead}; their stderr is '
                            'in the captured output above') from None
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f'{nprocs} workers of {target.__name__} gave '
                        f'{len(results)} results in {timeout:.0f} s '
                        '(MMCNCLIP_TEST_TIMEOUT)') from None
                continue
            if status != 'ok':  # the other ranks may wait for it forever
                raise AssertionError(f'worker rank {rank} failed:\n{value}')
            results[rank] = value
        for p in procs:  # results are in; a loaded machine exits slowly
            p.join(timeout=max(deadline - time.monotonic(), 60))
            assert p.exitcode == 0, (
                f'worker {p.name} sent its result but then exited with '
                f'{p.exitcode} (None: still running)')
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    return results
