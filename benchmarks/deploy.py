"""Benchmark the two deployments that need no server of ours: a Hugging Face Space's start, and the in-browser page.

    python benchmarks/deploy.py [--runs 3] [--photos 8]      # from the repository's root

Space (target: the first answer within 10 s of `python app.py`, on 2 cores): `bearclf space` for the course's model,
its requirements.txt installed in a virtual environment of its own (once, kept in `--venvs`), then `python app.py`
started `--runs` times; each time, the seconds from the start to the first answer of a `gradio_client` call on a
grizzly (the test suite's `start_space`).

Browser (target: the verdict within 2 s of picking a photo, after the model has loaded): the docs site built with
`bearclf docs`, served on 127.0.0.1 and opened in headless Chromium with every request outside 127.0.0.1 refused;
the seconds from picking a photo to the verdict (the test suite's `pick`), for the first photo and the median of the
next `--photos`, on each of `--runs` fresh pages. Run it on an idle machine.
"""
import argparse, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).parents[1]
sys.path.insert(0, str(REPO/'tests'))  # one way to start a Space and to pick a photo: the tests'
from conftest import CHROMIUM_ARGS
from test_browser import PAGE, SITE, pick, serve
from test_space import space_venv, start_space

def space_seconds(runs:int, venvs:Path, grizzly:Path)->list:
    from bearclf.core import data_home
    tmp = Path(tempfile.mkdtemp())
    subprocess.run([shutil.which('bearclf'), 'space', '--model', str(data_home()/'models'/'default'), '--out',
                    str(tmp/'space')], check=True, capture_output=True)
    python, seconds = space_venv(tmp/'space', venvs), []
    for _ in range(runs):
        proc, _, s = start_space(tmp/'space', python, tmp, grizzly)
        proc.terminate(); proc.communicate(timeout=30)
        seconds.append(s)
    shutil.rmtree(tmp)
    return seconds

def browser_seconds(runs:int, photos:list)->list: # `(load, first pick, median of the next picks)` per run
    from playwright.sync_api import sync_playwright
    subprocess.run([shutil.which('bearclf'), 'docs'], cwd=REPO, check=True, capture_output=True)
    server, url = serve(SITE)
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which('chromium'), args=CHROMIUM_ARGS)
        for _ in range(runs):
            page = browser.new_page()
            page.route('**/*', lambda route: route.continue_() if urlparse(route.request.url).hostname == '127.0.0.1'
                       else route.abort())
            started = time.perf_counter()
            page.goto(url + PAGE)
            page.wait_for_selector('#status[data-state="ready"]', timeout=60_000)
            loaded = time.perf_counter() - started
            picks = [pick(page, fn.name, path=fn)[1] for fn in photos]
            results.append((loaded, picks[0], statistics.median(picks[1:])))
            page.close()
        browser.close()
    server.shutdown()
    return results

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--runs', type=int, default=3)
    p.add_argument('--photos', type=int, default=8, help='photos picked on each page, after the first')
    p.add_argument('--venvs', type=Path, default=REPO/'.pytest_cache'/'d'/'space_venv', help="the Space's environments")
    args = p.parse_args()
    bears = Path(REPO.parent/'shared'/'data'/'bears')
    grizzly = sorted((bears/'grizzly').glob('*.jpg'))[0]
    photos = [grizzly] + [fn for label in ('grizzly', 'black', 'teddy') for fn in sorted((bears/label).glob('*.jpg'))[1:4]]
    space = space_seconds(args.runs, args.venvs, grizzly)
    print('Space, seconds from `python app.py` to its first answer: ' + ', '.join(f'{s:.2f}' for s in space) +
          f' (median {statistics.median(space):.2f})')
    for loaded, first, rest in browser_seconds(args.runs, photos[:args.photos + 1]):
        print(f'browser page: loaded with its model in {loaded:.2f} s; pick to verdict: first photo {first:.2f} s, '
              f'median of the next {args.photos} {rest:.2f} s')

if __name__ == '__main__': main()
