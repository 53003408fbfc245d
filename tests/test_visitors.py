"""Many visitors at once: `bearclf app` as the README starts it, opened by several browsers together, each uploading
its own photos and checking its own answers; the server's kernels counted and its memory measured; the kernel limit's
busy page; and idle kernels ended.

Each visitor is a browser context of its own (its own cookies and page, as another person's browser would be) in one
headless Chromium, driven with playwright's async API so that all of them load, upload and click at the same time.
The answers a visitor should see are the model's own, predicted here with the same `model.onnx`, in the app's words
(`bearclf.app.verdict`). Timings are printed, not asserted: `benchmarks/visitors.py` measures them against the targets.
"""
import asyncio, os, shutil, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import pytest
from playwright.async_api import async_playwright
from conftest import CHROMIUM_ARGS, missing
from test_app import alive, descendants, free_port, start_app, stop_app

from bearclf.serve import READY  # `bearclf app`'s default: kernels ready for the next visitors

def kernels(server:int)->list: # process ids
    "The Jupyter kernels the server `server` started"
    def cmdline(pid):
        try: return Path(f'/proc/{pid}/cmdline').read_bytes()
        except FileNotFoundError: return b''
    return [p for p in descendants(server) if b'ipykernel' in cmdline(p) and alive(p)]

def memory_mb(server:int)->float: # proportional set size: shared pages split between the processes that share them
    "The memory the server `server` and every process it started hold, in MB (their PSS, which adds up)"
    total = 0
    for pid in [server, *descendants(server)]:
        try: rollup = Path(f'/proc/{pid}/smaps_rollup').read_text(encoding='utf-8')
        except (FileNotFoundError, ProcessLookupError): continue
        total += next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith('Pss:'))
    return total / 1024

def run_apart(coroutine):
    "Run `coroutine` in a thread of its own: the sync playwright of other tests' `browser` fixture holds this one's loop"
    with ThreadPoolExecutor(1) as pool: return pool.submit(asyncio.run, coroutine).result()

def wait_until(check, seconds:float, what:str):
    "Wait up to `seconds` for `check()` to be true; fail saying `what` did not happen"
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline: pytest.fail(f'{what} within {seconds} s')
        time.sleep(0.5)

def expected_verdicts(photos:list)->list:
    "What the app says of each of `photos`: the model's own answers, in the app's words"
    from bearclf.app import verdict
    from bearclf.core import data_home
    from bearclf.runtime import load_predictor
    predictor = load_predictor(data_home()/'models'/'default')
    return [verdict(predictor.predict_photo(p)[0], predictor.card['classes']) for p in photos]

async def visit(browser, url:str, photos:list)->dict:
    "One visitor: open the page; if it is the app, upload `photos`, click Classify and read the answers"
    context = await browser.new_context(viewport=dict(width=820, height=900))
    page = await context.new_page()
    opened = time.monotonic()
    await page.goto(url, timeout=120_000)
    upload, busy = page.locator('button.widget-upload'), page.locator('body.bearclf-busy')
    await upload.or_(busy).wait_for(timeout=120_000)
    seen = dict(context=context, page=page, render=time.monotonic() - opened)
    if await busy.count(): return seen | dict(busy=await page.locator('body').inner_text())
    async with page.expect_file_chooser() as chooser: await upload.click()
    await (await chooser.value).set_files(photos)
    classify = page.locator('button:has-text("Classify"):not([disabled])')
    await classify.wait_for(timeout=60_000)  # every photo has reached the kernel
    clicked = time.monotonic()
    await classify.click()
    await page.locator('.bearclf-result').nth(len(photos) - 1).wait_for(timeout=120_000)
    return seen | dict(classified=time.monotonic() - clicked, verdicts=await page.locator('.bearclf-verdict').all_inner_texts(),
                       answered=time.monotonic() - opened)

async def leave(seen:list):
    "Leave the visitors' pages, as a person closing the tab does (Voila's page then asks the server to end its kernel)"
    for s in seen: await s['page'].goto('about:blank')

async def launch(playwright):
    "Headless Chromium, as the `browser` fixture starts it, for playwright's async API"
    return await playwright.chromium.launch(executable_path=shutil.which('chromium'), args=CHROMIUM_ARGS)

async def visitors(browser, url:str, photo_sets:list)->list:
    "Visitors in `browser`, one per set of photos, all at once"
    return await asyncio.gather(*(visit(browser, url, photos) for photos in photo_sets))

@pytest.fixture
def chromium():
    if not shutil.which('chromium'): missing('chromium is not installed (apt-get install -y chromium)')

def photo_sets(shared_data:Path, visitors:int, each:int)->list:
    "`visitors` sets of `each` photos, no photo in two sets: grizzlies, black bears, teddies and cats in turn"
    pools = [sorted((shared_data/'bears'/b).glob('*.jpg')) for b in ('grizzly', 'black', 'teddy')]
    pools.append(sorted((shared_data/'not_bears').rglob('*.jpg')))
    photos = [pool[i] for i in range(visitors * each) for pool in pools if i < len(pool)][:visitors * each]
    return [photos[i*each:(i+1)*each] for i in range(visitors)]

@pytest.mark.time_limit(300)
def test_eight_visitors_at_once(chromium, model_dir, shared_data, tmp_path):
    "`bearclf app` with its defaults, eight visitors together: each gets its own answers, in under 4 GB, and no kernel outlives its page"
    sets = photo_sets(shared_data, 8, 5)
    expected = [expected_verdicts(s) for s in sets]
    port = free_port()
    proc = start_app(port, 60, os.environ | dict(BEARCLF_LOG=str(tmp_path/'predictions.sqlite')))
    try:
        wait_until(lambda: len(kernels(proc.pid)) == READY, 60, 'the ready kernels did not start')
        async def all_at_once():
            async with async_playwright() as p:
                browser = await launch(p)
                seen = await visitors(browser, f'http://127.0.0.1:{port}/', sets)
                during = len(kernels(proc.pid)), memory_mb(proc.pid)
                await leave(seen)
                await browser.close()
            return seen, during
        seen, (live, memory) = run_apart(all_at_once())
        for s in seen: print(f"render {s['render']:.1f} s, 5 photos {s['classified']:.2f} s after the click, "
                             f"answered {s['answered']:.1f} s after opening")
        print(f'{live} kernels, {memory:.0f} MB with the server')
        assert [s.get('busy') for s in seen] == [None] * 8, seen
        assert [s['verdicts'] for s in seen] == expected
        assert 8 <= live <= 10 and memory < 4000, (live, memory)  # the default limit is 10 kernels, ready ones included
        # closing a page ends its kernel (Voila's own); the ready kernels stay, for the next visitors
        wait_until(lambda: len(kernels(proc.pid)) == READY, 60, 'the visitors\' kernels did not end')
    finally: stop_app(proc)

@pytest.mark.time_limit(300)
def test_kernel_limit_busy_page_and_idle_timeout(chromium, model_dir, shared_data, tmp_path):
    "Three kernels at most: the fourth visitor is told the app is busy; left alone, the three are ended, and it gets in"
    sets = photo_sets(shared_data, 4, 1)
    port, url = free_port(), None
    proc = start_app(port, 60, os.environ | dict(BEARCLF_LOG=str(tmp_path/'predictions.sqlite')),
                     command=('app', '--max-kernels', '3', '--ready', '1', '--idle-minutes', '0.25'))
    url = f'http://127.0.0.1:{port}/'
    try:
        wait_until(lambda: len(kernels(proc.pid)) == 1, 60, 'the ready kernel did not start')
        async def over_the_limit():
            async with async_playwright() as p:
                browser = await launch(p)
                seen = await visitors(browser, url, sets[:3])  # three people who leave their tabs open
                fourth = await visit(browser, url, sets[3])
                live = len(kernels(proc.pid))
                # nobody touches the pages: after 15 s idle the server ends their kernels, and the fourth gets in
                await asyncio.to_thread(wait_until, lambda: len(kernels(proc.pid)) <= 1, 60, 'idle kernels did not end')
                later = await visit(browser, url, sets[3])
                await browser.close()
            return seen, fourth, live, later
        seen, fourth, live, later = run_apart(over_the_limit())
        assert [s.get('busy') for s in seen] == [None] * 3, seen
        assert live == 3, live
        assert 'Busy: try again in a moment' in fourth.get('busy', ''), fourth
        assert 'All 3 places of this app are taken by other visitors.' in fourth['busy'], fourth
        assert later.get('busy') is None and later['verdicts'] == expected_verdicts(sets[3]), later
    finally: stop_app(proc)
