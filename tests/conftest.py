"""Shared pytest set-up: a per-test time limit, raised for a test with `@pytest.mark.time_limit(seconds)`; the course's
real photos beside the clone (`../shared/data`) for the tests that need them; and a headless Chromium for the tests
that drive the app and the docs site in a real browser.

What a test needs and can't find (the photos, Chromium) skips it on a machine set up for something else, and fails it
under CI (`$CI` set, as GitHub Actions and the caller of `.ci/run` set it): there, a test that quietly skipped would
pass a check that never ran."""
import os, shutil, signal, threading
from pathlib import Path
import pytest

TEST_TIME_LIMIT = 20  # seconds; no test should come near this, it only turns a hang into a failure

def pytest_configure(config):
    config.addinivalue_line('markers', 'time_limit(seconds): a longer time limit than TEST_TIME_LIMIT for this test')

@pytest.fixture(autouse=True)
def time_limit(request):
    "Fail (instead of hanging) a test that runs longer than its time limit"
    marker = request.node.get_closest_marker('time_limit')
    limit = marker.args[0] if marker else TEST_TIME_LIMIT
    if not hasattr(signal, 'setitimer') or threading.current_thread() is not threading.main_thread():
        yield
        return
    def on_alarm(signum, frame):
        # `pytest.fail` raises a BaseException, so no `except Exception` in the code under test swallows it
        pytest.fail(f'{request.node.name} took longer than {limit}s', pytrace=False)
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try: yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

def missing(what:str): # what is missing, and how to get it
    "Skip the test for want of `what`; under CI (`$CI` set) fail it instead"
    if os.environ.get('CI'): pytest.fail(f'{what} (required under CI)', pytrace=False)
    pytest.skip(what)

SHARED_DATA = Path(__file__).parents[2]/'shared'/'data'
SHARED_FOLDERS = ('bears/grizzly', 'bears/black', 'bears/teddy', 'not_bears')  # every one a test reads photos from

@pytest.fixture(scope='session')
def shared_data()->Path: # `../shared/data`: `bears/<label>/` and `not_bears/` photos
    "The course's real photos beside the clone, as `.ci/run` expects them: skip without them, fail under CI"
    absent = [f for f in SHARED_FOLDERS if not any((SHARED_DATA/f).rglob('*.jpg'))]
    if absent: missing(f"no photos in {', '.join(str(SHARED_DATA/f) for f in absent)}")
    return SHARED_DATA

@pytest.fixture(scope='session')
def model_dir(shared_data)->Path:
    "The course's default model folder, trained first if it isn't there yet (in CI, `nbdev_test` has trained it)"
    from bearclf.core import data_home
    from bearclf.train import trained_bears
    trained_bears()
    return data_home()/'models'/'default'

CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--disable-quic']

@pytest.fixture(scope='session')
def browser():
    "Debian's Chromium driven by playwright, without `playwright install` (`../shared/STACK.md`); required in CI"
    chromium = shutil.which('chromium')
    if not chromium: missing('chromium is not installed (apt-get install -y chromium)')
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
