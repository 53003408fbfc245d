"""`bearclf app` in a real browser: start the command on the course's model, upload photos in headless Chromium,
and check what it logged; `bearclf review app` on such a log, reviewing one prediction. And the app lesson's notebook of the book's
widgets, served by the `voila` command as the lesson says, classifying an upload.

Needs Chromium (the `browser` fixture in conftest.py; `.ci/run` installs it) and the course's photos (the `shared_data`
fixture): without them a test skips, and under CI it fails. Each test gets what it needs from fixtures, so any one of
them runs alone (`pytest tests/test_app.py -k review`) as it runs with the others. The model is the course's default
one (`trained_bears`), which `nbdev_test` has already trained in CI; elsewhere the fixture trains it first (about 2
minutes).
The app is started as the README says, `bearclf app`, with only a free port and `--no-browser` added.

`BEARCLF_SCREENSHOT=nbs/images/app.png pytest tests/test_app.py` also saves the page, with its results, as the
screenshot the README and the docs show (and the review page as review.png, the book's widgets as book_widgets.png,
beside it).
"""
import os, shutil, signal, socket, subprocess, time
from pathlib import Path
import nbformat
import pandas as pd
import pytest
from conftest import missing

def descendants(pid:int)->set:
    "The process ids of every process started by `pid`, and by those, and so on (Linux)"
    try: kids = {int(k) for k in Path(f'/proc/{pid}/task/{pid}/children').read_text(encoding='utf-8').split()}
    except FileNotFoundError: return set()
    return kids.union(*(descendants(k) for k in kids))

def alive(pid:int)->bool:
    try: return Path(f'/proc/{pid}/stat').read_text(encoding='utf-8').split()[2] != 'Z'  # a zombie has exited
    except FileNotFoundError: return False

def free_port()->int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def start_server(argv:list, port:int, seconds:float, env:dict=None)->subprocess.Popen:
    "Run the server `argv` and wait up to `seconds` for it to listen on `port` (the page renders when a browser asks)"
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None: pytest.fail(f'{Path(argv[0]).name} exited:\n{proc.communicate()[0]}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1): return proc
        except OSError: time.sleep(0.25)
    proc.kill()
    pytest.fail(f'{Path(argv[0]).name} did not listen within {seconds} s:\n{proc.communicate()[0]}')

def start_app(port:int, seconds:float, env:dict=None, command=('app',))->subprocess.Popen:
    "Run `bearclf app` (or `bearclf *command`) on `port` and wait up to `seconds` for it to listen"
    return start_server([shutil.which('bearclf'), *command, '--port', str(port), '--no-browser'], port, seconds, env)

def stop_app(proc:subprocess.Popen)->str: # its output
    "Stop `bearclf app` as Ctrl-C or a service manager would, and check its kernels stopped too"
    spawned = descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=30)[0]
    deadline = time.time() + 10
    while any(alive(p) for p in spawned) and time.time() < deadline: time.sleep(0.2)
    assert not [p for p in spawned if alive(p)], f'kernels left running after bearclf app stopped:\n{out}'
    return out

@pytest.fixture(scope='module')
def prediction_log(tmp_path_factory): return tmp_path_factory.mktemp('log')/'predictions.sqlite'

@pytest.fixture(scope='module')
def app_url(model_dir, prediction_log):
    "`bearclf app` running on a free port, logging to `prediction_log`; stopped, with its kernels, afterwards"
    port, started = free_port(), time.perf_counter()
    proc = start_app(port, 60, os.environ | dict(BEARCLF_LOG=str(prediction_log)))
    yield f'http://127.0.0.1:{port}/', started
    stop_app(proc)

@pytest.mark.time_limit(120)
def test_app_classifies_uploads_in_a_browser(browser, app_url, prediction_log, shared_data, tmp_path):
    url, started = app_url
    grizzly = sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[0]
    cat = sorted((shared_data/'not_bears').rglob('*.jpg'))[0]
    notes = tmp_path/'notes.txt'
    notes.write_text('these are my notes, not a photo', encoding='utf-8')
    page = browser.new_page(viewport=dict(width=820, height=600))
    try:
        page.goto(url, timeout=90_000)
        upload = page.locator('button.widget-upload')
        upload.wait_for(timeout=90_000)
        print(f'first render {time.perf_counter() - started:.1f} s after bearclf app started')
        with page.expect_file_chooser() as chooser: upload.click()
        chooser.value.set_files([grizzly, cat, notes])
        page.get_by_role('button', name='Classify').click()
        page.locator('.bearclf-result').nth(2).wait_for(timeout=60_000)
        verdicts = page.locator('.bearclf-verdict').all_inner_texts()
        names = page.locator('.bearclf-result b').all_inner_texts()
        thumbnails = page.locator('.bearclf-result img').count()
        if os.environ.get('BEARCLF_SCREENSHOT'): page.screenshot(path=os.environ['BEARCLF_SCREENSHOT'], full_page=True)
    finally: page.close()
    assert names == [grizzly.name, cat.name, notes.name]
    assert verdicts[0].startswith('Grizzly bear ('), verdicts
    assert verdicts[1].startswith('Not a bear'), verdicts
    assert verdicts[2] == "Can't use this file: not an image (or in a format PIL can't read)", verdicts
    assert thumbnails == 2  # the two photos, none for the text file
    from bearclf.log import PredictionLog
    logged = PredictionLog(prediction_log).frame()
    assert logged.file.tolist() == [grizzly.name, cat.name], logged  # the two photos, as named in the upload
    assert logged.label.tolist() == ['grizzly', 'not_a_bear'], logged

def immutable(files:list, on:bool):
    "Make `files` unwritable even by root, and even through files already open (`chattr +i`), or writable again"
    done = subprocess.run(['chattr', '+i' if on else '-i', *map(str, files)], capture_output=True, text=True)
    if done.returncode: missing(f"can't make the log unwritable with chattr: {done.stderr.strip()}")

def choose_and_classify(page, files:list, wait_for:str):
    "Choose `files` in the app's upload, click Classify, and wait for the result of the one named `wait_for`"
    with page.expect_file_chooser() as chooser: page.locator('button.widget-upload').click()
    chooser.value.set_files(files)
    page.locator('button:has-text("Classify"):not([disabled])').wait_for(timeout=60_000)
    page.get_by_role('button', name='Classify').click()
    page.locator('.bearclf-result b', has_text=wait_for).wait_for(timeout=60_000)
    page.locator('.bearclf-status', has_text='classified in').wait_for(timeout=60_000)

@pytest.mark.time_limit(180)
def test_app_says_what_went_wrong_and_goes_on(browser, app_url, prediction_log, shared_data, tmp_path):
    "The log made unwritable under the running app; a file too large to send; a name that looks like HTML"
    from bearclf.log import PredictionLog
    url, _ = app_url
    grizzly = sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[1]
    html_name = tmp_path/'<img src=x onerror=alert(1)>.jpg'
    shutil.copy(grizzly, html_name)
    too_large = tmp_path/'panorama.jpg'
    too_large.write_bytes(os.urandom(21_000_000))  # over the app's default limit, 20 MB
    log_files = [prediction_log, prediction_log.with_name(prediction_log.name + '-wal')]  # not -shm: SQLite maps it
    page = browser.new_page(viewport=dict(width=820, height=900))
    try:
        page.goto(url, timeout=90_000)
        page.locator('button.widget-upload').wait_for(timeout=90_000)
        logged_before = len(PredictionLog(prediction_log, read_only=True).frame())
        immutable(log_files, True)
        try:
            with page.expect_file_chooser() as chooser: page.locator('button.widget-upload').click()
            chooser.value.set_files([html_name, too_large])
            page.get_by_text('Not sent, over the limit of 20 MB: panorama.jpg (21.0 MB).').wait_for(timeout=60_000)
            page.locator('button:has-text("Classify"):not([disabled])').wait_for(timeout=60_000)
            page.get_by_role('button', name='Classify').click()
            page.locator('.bearclf-warning', has_text="could not be kept in the app's log").wait_for(timeout=60_000)
            unlogged = dict(names=page.locator('.bearclf-result b').all_inner_texts(),
                            verdicts=page.locator('.bearclf-verdict').all_inner_texts(),
                            warning=page.locator('.bearclf-warning').inner_text(), injected=page.locator('img[src="x"]').count())
        finally: immutable(log_files, False)
        choose_and_classify(page, [grizzly], grizzly.name)  # the log is writable again: the app logs again
        after = dict(warning=page.locator('.bearclf-warning').inner_text(),
                     verdicts=page.locator('.bearclf-verdict').all_inner_texts())
    finally: page.close()
    assert unlogged['names'] == [html_name.name] and unlogged['injected'] == 0, unlogged  # text: the page made no <img> of it
    assert unlogged['verdicts'][0].startswith('Grizzly bear ('), unlogged
    assert 'Classifying still works' in unlogged['warning'], unlogged
    assert after['warning'] == '' and after['verdicts'][0].startswith('Grizzly bear ('), after
    logged = PredictionLog(prediction_log, read_only=True).frame()
    assert len(logged) == logged_before + 1 and logged.label.iloc[-1] == 'grizzly', logged  # only the last one

@pytest.fixture
def two_logged_predictions(shared_data, tmp_path)->Path: # the log's file
    "A prediction log holding what the app logs for a grizzly and a cat (the test above checks the app logs that)"
    from PIL import Image
    from bearclf.core import NOT_A_BEAR, Prediction
    from bearclf.log import PredictionLog
    grizzly = sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[0]
    cat = sorted((shared_data/'not_bears').rglob('*.jpg'))[0]
    log = PredictionLog(tmp_path/'predictions.sqlite')
    log.add(Prediction(grizzly.name, 'grizzly', 0.97, dict(black=0.02, grizzly=0.97, teddy=0.01), in_domain=True, domain=0.9),
            Image.open(grizzly).convert('RGB'), 'model')
    log.add(Prediction(cat.name, NOT_A_BEAR, 0.99, dict(black=0.3, grizzly=0.3, teddy=0.4), in_domain=False, domain=0.01),
            Image.open(cat).convert('RGB'), 'model')
    log.close()
    return log.path

@pytest.mark.time_limit(120)
def test_review_app_keeps_a_verdict_from_the_browser(browser, two_logged_predictions):
    "Two predictions in the log: review the first as right and skip the second"
    from bearclf.log import PredictionLog
    port = free_port()
    proc = start_app(port, 60, command=('review', 'app', '--log', str(two_logged_predictions)))
    page = browser.new_page(viewport=dict(width=820, height=700))
    try:
        page.goto(f'http://127.0.0.1:{port}/', timeout=90_000)
        page.get_by_text('Prediction 1 of 2 to review').wait_for(timeout=90_000)
        photo_shown = page.locator('img').count()
        if os.environ.get('BEARCLF_SCREENSHOT'): page.screenshot(path=Path(os.environ['BEARCLF_SCREENSHOT']).with_name('review.png'), full_page=True)
        page.get_by_role('button', name='Right').click()
        page.get_by_text('Prediction 2 of 2 to review').wait_for(timeout=30_000)
        page.get_by_role('button', name='Skip').click()
        page.get_by_text('nothing left to review').wait_for(timeout=30_000)
    finally:
        page.close()
        stop_app(proc)
    assert photo_shown == 1
    reviewed = PredictionLog(two_logged_predictions).frame()
    assert reviewed.right.tolist()[0] is True and pd.isna(reviewed.right[1]), reviewed  # right, then skipped
    assert reviewed.truth[0] == reviewed.label[0] == 'grizzly', reviewed

@pytest.mark.time_limit(120)
def test_review_app_speaks_of_a_sign_models_classes(browser, tmp_path):
    "A log of a sign-digit model's predictions, reviewed in the browser: its signs and 'None of these', never a bear"
    from PIL import Image
    from bearclf.core import NONE_OF_THESE, Prediction
    from bearclf.log import PredictionLog
    signs = ['eight', 'five', 'nine', 'seven', 'six']
    def probs(top): return {c: 0.8 if c == top else 0.05 for c in signs}
    log = PredictionLog(tmp_path/'predictions.sqlite')
    log.add(Prediction('hand.jpg', 'five', 0.8, probs('five'), in_domain=True, domain=0.9),
            Image.new('RGB', (100, 100), 'peru'), 'signs')
    log.add(Prediction('cat.jpg', NONE_OF_THESE, 0.99, probs('six'), in_domain=False, domain=0.01),
            Image.new('RGB', (100, 100), 'gray'), 'signs')  # what the photos show doesn't matter here
    log.close()
    port = free_port()
    proc = start_app(port, 60, command=('review', 'app', '--log', str(log.path)))
    page = browser.new_page(viewport=dict(width=820, height=700))
    try:
        page.goto(f'http://127.0.0.1:{port}/', timeout=90_000)
        page.get_by_text('Prediction 1 of 2 to review').wait_for(timeout=90_000)
        pages = [page.locator('body').inner_text()]
        page.get_by_role('button', name='None of these').click()  # the hand is no sign at all, says this reviewer
        page.get_by_text('Prediction 2 of 2 to review').wait_for(timeout=30_000)
        pages.append(page.locator('body').inner_text())
        page.get_by_role('button', name='Right').click()
        page.get_by_text('nothing left to review').wait_for(timeout=30_000)
    finally:
        page.close()
        stop_app(proc)
    assert 'Was the classifier right?' in pages[0] and 'the model said five, 80% sure' in pages[0], pages[0]
    assert "It's six" in pages[0] and 'the model said none of these' in pages[1], pages
    assert not [p for p in pages if 'bear' in p.lower()], pages
    assert PredictionLog(log.path).frame().truth.tolist() == [NONE_OF_THESE, NONE_OF_THESE]


@pytest.mark.time_limit(600)
def test_first_bearclf_app_trains_the_default_model(shared_data, tmp_path):
    "The README's second command on a fresh machine: no model yet, so `bearclf app` trains one, then serves"
    port = free_port()
    out = stop_app(start_app(port, 500, os.environ | dict(BEARCLF_HOME=str(tmp_path/'home'), BEARCLF_DATA=str(shared_data/'bears'))))
    assert 'no model in' in out and 'training one' in out, out
    assert 'epoch' in out and 'train_loss' in out, out  # fastai's progress table
    assert (tmp_path/'home'/'models'/'default'/'model.safetensors').exists()
    assert f'serving {tmp_path}/home/models/default at http://127.0.0.1:{port}/' in out, out

# The app lesson's notebook for Voila: the book's widgets, with the course model loaded from the safe format
BOOK_APP = [
    "from bearclf.train import trained_bears\nfrom fastai.vision.all import *\nfrom fastai.vision.widgets import *\n"
    "learn = trained_bears()",
    "btn_upload = widgets.FileUpload()\nbtn_run = widgets.Button(description='Classify')\nout_pl = widgets.Output()\n"
    "lbl_pred = widgets.Label()",
    "def on_click_classify(change):\n"
    "    img = PILImage.create(bytes(btn_upload.value[-1]['content']))\n"
    "    out_pl.clear_output()\n"
    "    with out_pl: display(img.to_thumb(128,128))\n"
    "    pred,pred_idx,probs = learn.predict(img)\n"
    "    lbl_pred.value = f'Prediction: {pred}; Probability: {probs[pred_idx]:.04f}'\n\n"
    "btn_run.on_click(on_click_classify)",
    "VBox([widgets.Label('Select your bear!'), btn_upload, btn_run, out_pl, lbl_pred])",
]

@pytest.mark.time_limit(180)
def test_the_books_widgets_under_voila(browser, model_dir, shared_data, tmp_path):
    "`voila bears_app.ipynb`, as the app lesson says, on the book's widgets: upload a grizzly, click Classify, read the label"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in BOOK_APP])
    nb.metadata['kernelspec'] = dict(name='python3', display_name='Python 3', language='python')
    nbformat.write(nb, tmp_path/'bears_app.ipynb')
    grizzly = sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[0]
    port = free_port()
    proc = start_server([shutil.which('voila'), str(tmp_path/'bears_app.ipynb'), f'--port={port}', '--no-browser',
                         '--Voila.ip=127.0.0.1', '--Voila.port_retries=0'], port, 60)
    page = browser.new_page(viewport=dict(width=400, height=260))
    try:
        page.goto(f'http://127.0.0.1:{port}/', timeout=90_000)
        upload = page.locator('button.widget-upload')
        upload.wait_for(timeout=90_000)
        with page.expect_file_chooser() as chooser: upload.click()
        chooser.value.set_files(grizzly)
        page.get_by_role('button', name='Classify').click()
        page.get_by_text('Prediction: ').wait_for(timeout=60_000)
        said = page.get_by_text('Prediction: ').inner_text()
        thumbnails = page.locator('.widget-output img').count()
        if os.environ.get('BEARCLF_SCREENSHOT'):
            page.screenshot(path=Path(os.environ['BEARCLF_SCREENSHOT']).with_name('book_widgets.png'), full_page=True)
    finally:
        page.close()
        stop_app(proc)
    assert said.startswith('Prediction: grizzly; Probability: '), said
    assert thumbnails == 1
