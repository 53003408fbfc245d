"""Make `nbs/images/cleaner.png`: the book's `ImageClassifierCleaner` on the course's model, as a browser shows it.

    BEARCLF_DATA=../shared/data/bears python tools/cleaner_screenshot.py [--label grizzly] [--split Train] [--out ...]

A widget shows nothing in the static docs, so the cleaning lesson shows this screenshot instead. The script writes a
small notebook to a temporary folder that builds `ImageClassifierCleaner(trained_bears())` (the model the training
lesson saved), shows the `--label` / `--split` view and picks, in the menus under its photos, the decisions that
`nbs/course/bear_decisions.csv` makes about them (as a learner would by hand). It serves that notebook with Voila on
a free port, opens it in Debian's Chromium through playwright (see ../shared/STACK.md: no `playwright install`),
saves a PNG of the widget and stops Voila and its kernel.
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--disable-quic']

# bearclf is imported first: it silences a warning that importing fastai triggers with recent torch
SETUP = '''from bearclf.core import photo_key
from bearclf.clean import DELETE, _fit_thumbnails, read_decisions
from bearclf.train import trained_bears
from fastai.vision.all import *
from fastai.vision.widgets import ImageClassifierCleaner
learn = trained_bears()
set_seed(42)  # fastai scores the training photos through random augmentations: the same seed, the same order
with learn.no_bar(): cleaner = ImageClassifierCleaner(learn)
cleaner.dd_cats.value, cleaner.dd_ds.value = {label!r}, {split!r}
decisions = read_decisions({decisions!r})
_fit_thumbnails(cleaner.iw)  # else each photo is a million pixels wide in JupyterLab and Voila (fastai issue 3999)
for fn, box in zip(cleaner.fns, cleaner.iw.widget.children):
    if (action := decisions.get(photo_key(fn))): box.children[1].value = '<Delete>' if action == DELETE else action
'''

def notebook(label:str, split:str, decisions:Path)->dict:
    "The notebook Voila serves: a set-up cell with no output, then the cleaner"
    cells = [SETUP.format(label=label, split=split, decisions=str(decisions)), 'cleaner']
    return dict(nbformat=4, nbformat_minor=5, metadata=dict(kernelspec=dict(name='python3', language='python')),
                cells=[dict(cell_type='code', id=f'cell{i}', metadata={}, outputs=[], execution_count=None, source=src)
                       for i, src in enumerate(cells)])

def free_port()->int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def wait_for_port(proc:subprocess.Popen, port:int, seconds:float):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None: sys.exit(f'voila exited:\n{proc.communicate()[0]}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1): return
        except OSError: time.sleep(0.25)
    sys.exit(f'voila did not listen within {seconds} s')

def screenshot(url:str, out:Path, width:int):
    "Open `url` in headless Chromium, wait for the cleaner's photos, and save the widget as `out`"
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which('chromium') or '/usr/bin/chromium', args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=dict(width=width, height=400))
        page.goto(url, timeout=180_000)
        # the kernel loads the model and scores every photo before the first thumbnail shows
        page.locator('.widget-output img').first.wait_for(timeout=300_000)
        page.wait_for_function("[...document.querySelectorAll('.widget-output img')]"
                               ".every(im => im.complete && im.naturalWidth > 0)")
        cleaner = page.locator('.widget-vbox').first
        cleaner.screenshot(path=str(out))
        browser.close()

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--label', default='grizzly', help='the label the cleaner shows')
    p.add_argument('--split', default='Train', choices=('Train', 'Valid'))
    p.add_argument('--decisions', type=Path, default=ROOT/'nbs'/'course'/'bear_decisions.csv')
    p.add_argument('--out', type=Path, default=ROOT/'nbs'/'images'/'cleaner.png')
    p.add_argument('--width', type=int, default=1000, help='browser window width in pixels')
    args = p.parse_args()
    if not os.environ.get('BEARCLF_DATA'): sys.exit('set BEARCLF_DATA to the course photos, e.g. ../shared/data/bears')
    with tempfile.TemporaryDirectory() as d:
        nb = Path(d)/'cleaner.ipynb'
        nb.write_text(json.dumps(notebook(args.label, args.split, args.decisions.resolve())), encoding='utf-8')
        port = free_port()
        proc = subprocess.Popen([sys.executable, '-m', 'voila', str(nb), f'--port={port}', '--no-browser',
                                 '--Voila.ip=127.0.0.1', '--Voila.port_retries=0'],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for_port(proc, port, 60)
            screenshot(f'http://127.0.0.1:{port}/', args.out, args.width)
        finally:
            proc.send_signal(signal.SIGTERM)  # Voila stops its kernels on SIGTERM
            try: proc.communicate(timeout=30)
            except subprocess.TimeoutExpired: proc.kill()
    print(f'saved {args.out}')

if __name__ == '__main__': main()
