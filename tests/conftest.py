"""Shared pytest set-up: a per-test time limit."""
import signal, threading
import pytest

TEST_TIME_LIMIT = 20  # seconds; no test should come near this, it only turns a hang into a failure



@pytest.fixture(autouse=True)
def time_limit(request):
    "Fail (instead of hanging) a test that runs longer than `TEST_TIME_LIMIT` seconds"
    if not hasattr(signal, 'setitimer') or threading.current_thread() is not threading.main_thread():
        yield
        return
    def on_alarm(signum, frame):
        # `pytest.fail` raises a BaseException, so no `except Exception` in the code under test swallows it
        pytest.fail(f'{request.node.name} took longer than {TEST_TIME_LIMIT}s', pytrace=False)
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIME_LIMIT)
    try: yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
