"""hold.py - the "hold" fault the fakes share (fake_vault.py, fake_k8s.py).

A request whose fault is "hold" waits until the next release (POST
/_fake/release, or a reset), at most a given time, then is handled
normally: the test decides when it goes on. The generation a request waits
past is read when its fault is taken, so a release sent once a test saw the
fault taken always lets it go. Python 3 standard library only.
"""
import threading

_cv = threading.Condition()
_gen = [0]


def generation():
    """The current release generation (read when a hold fault is taken)."""
    return _gen[0]


def hold(gen, seconds):
    """Waits until a release after generation gen, at most seconds."""
    with _cv:
        _cv.wait_for(lambda: _gen[0] != gen, seconds)


def release():
    """Lets every held request go on."""
    with _cv:
        _gen[0] += 1
        _cv.notify_all()
