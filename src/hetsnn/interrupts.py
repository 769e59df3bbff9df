"""A Ctrl-C that always stops a run.

Python turns SIGINT into a KeyboardInterrupt wherever the main thread happens to be; when
that is a finaliser or a callback whose exceptions are ignored ("Exception ignored in
..."), the interrupt is lost and the run goes on. Under :func:`catching` every SIGINT is
also remembered, and :func:`stop_if_interrupted`, which the run loops call after each
checkpoint, raises it there.
"""

import contextlib
import signal

_pending = False


def _on_sigint(signum, frame):
    global _pending
    _pending = True
    raise KeyboardInterrupt


@contextlib.contextmanager
def catching():
    """Within the block, SIGINT raises KeyboardInterrupt as usual and is remembered (only
    in the main thread: elsewhere signals cannot be handled, and nothing changes)."""
    global _pending
    _pending = False
    try:
        previous = signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _pending = False


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt for a SIGINT that something swallowed since the last call."""
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt
