"""The Hugging Face Space `bearclf space` writes, run as Hugging Face runs it: its folder installs from its own
requirements.txt in a fresh virtual environment (no torch, no fastai), `python app.py` starts, and a `gradio_client`
call gets the right answers: a grizzly, a cat that is not a bear, and each bad file's clear message.

The virtual environment is made once per requirements.txt (and Python version) and kept in pytest's cache
(`.pytest_cache/d/space_venv/`), so a rerun takes seconds; the first run of a new requirements.txt installs it
from the registry into a new, empty one (about a minute). `pytest --cache-clear` starts again from nothing.
The model is the course's default one (`trained_bears`), trained first if it isn't there, as in test_app.py.
"""
import hashlib, os, shutil, socket, struct, subprocess, sys, time, zlib
from pathlib import Path
import pytest

def free_port()->int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def huge_png(width:int, height:int)->bytes:
    "A few hundred bytes that claim `width` x `height` pixels: a decompression bomb"
    def chunk(kind, data): return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\0' * 1000)) + chunk(b'IEND', b'')

def clean_env(**extra)->dict:
    "This environment without what would let the Space use this test's packages instead of its own"
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV', 'PYTHONHOME')}
    return env | extra

@pytest.fixture(scope='module')
def space(model_dir, tmp_path_factory)->Path:
    "The Space for the course's model, written by the installed command, as the deployment lesson does"
    out = tmp_path_factory.mktemp('space')/'bears'
    done = subprocess.run([shutil.which('bearclf'), 'space', '--model', str(model_dir), '--out', str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f'in {out}\n' in done.stdout and 'python app.py' in done.stdout and 'git push' in done.stdout, done.stdout
    return out

def space_venv(space:Path, root:Path)->Path: # its python
    "A virtual environment in `root` with only the Space's requirements.txt installed, made once per requirements.txt"
    requirements = (space/'requirements.txt').read_bytes()
    venv = root/hashlib.sha256(requirements + sys.version.encode()).hexdigest()[:16]
    python = venv/'bin'/'python'
    if not (venv/'installed').exists():  # made by an earlier run only if its install finished
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True, timeout=300)
        done = subprocess.run([str(python), '-m', 'pip', 'install', '-q', '-r', str(space/'requirements.txt')],
                              capture_output=True, text=True, timeout=1200, env=clean_env())
        assert done.returncode == 0, f'pip install -r requirements.txt failed:\n{done.stdout}\n{done.stderr}'
        (venv/'installed').write_text(requirements.decode('utf-8'), encoding='utf-8')
    return python

@pytest.fixture(scope='module')
def space_python(space, request, tmp_path_factory)->Path:
    "The Space's own virtual environment, kept in pytest's cache (without it, `-p no:cacheprovider`, a new one each run)"
    cache = request.config.cache.mkdir('space_venv') if hasattr(request.config, 'cache') else tmp_path_factory.mktemp('venv')
    return space_venv(space, Path(cache))

def start_space(space:Path, python:Path, tmp:Path, photo:Path)->tuple: # `(process, URL, seconds to the first answer)`
    "Run `python app.py` in `space` as Hugging Face does (on a free port of 127.0.0.1); time its first answer, on `photo`"
    from gradio_client import Client, handle_file
    port = free_port()
    env = clean_env(GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME='127.0.0.1', GRADIO_ANALYTICS_ENABLED='False',
                    GRADIO_TEMP_DIR=str(tmp))
    started = time.perf_counter()
    proc = subprocess.Popen([str(python), 'app.py'], cwd=space, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url, deadline = f'http://127.0.0.1:{port}/', started + 120
    while True:
        if proc.poll() is not None: pytest.fail(f'python app.py exited:\n{proc.communicate()[0]}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1): break
        except OSError:
            if time.perf_counter() > deadline:
                proc.kill(); pytest.fail(f'python app.py did not listen within 120 s:\n{proc.communicate()[0]}')
            time.sleep(0.1)
    table, first, preds = Client(url, verbose=False).predict([handle_file(str(photo))], api_name='/classify')
    assert preds[0]['label'] == 'grizzly', preds
    return proc, url, time.perf_counter() - started

@pytest.fixture(scope='module')
def space_app(space, space_python, shared_data, tmp_path_factory):
    "`python app.py` running in the Space's own environment: `(Client, seconds from start to its first answer)`"
    from gradio_client import Client
    proc, url, seconds = start_space(space, space_python, tmp_path_factory.mktemp('gradio'),
                                     sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[0])
    yield Client(url, verbose=False), seconds
    proc.terminate()
    proc.communicate(timeout=30)

@pytest.fixture(scope='module')
def bad_files(shared_data, tmp_path_factory)->dict: # file -> the start of its message
    "An empty file, a text file, a truncated photo and a decompression bomb"
    d = tmp_path_factory.mktemp('bad')
    (d/'empty.jpg').write_bytes(b'')
    (d/'notes.txt').write_text('not a photo', encoding='utf-8')
    photo = next((shared_data/'bears'/'grizzly').glob('*.jpg')).read_bytes()
    (d/'truncated.jpg').write_bytes(photo[:len(photo)//2])
    (d/'bomb.png').write_bytes(huge_png(20_000, 20_000))  # 400 million pixels, in a few hundred bytes
    return {d/'empty.jpg': 'the file is empty', d/'notes.txt': 'not an image', d/'truncated.jpg': 'the image is damaged',
            d/'bomb.png': 'too many pixels'}

def test_the_space_has_what_hugging_face_needs(space):
    assert sorted(str(f.relative_to(space)) for f in space.rglob('*') if f.is_file()) == [
        '.gitattributes', 'README.md', 'app.py', 'bearclf/__init__.py', 'bearclf/core.py', 'bearclf/photo.py',
        'bearclf/runtime.py', 'model.onnx', 'model_card.json', 'requirements.txt']
    requirements = (space/'requirements.txt').read_text(encoding='utf-8').split()
    pins = dict(line.split('==') for line in requirements)
    assert len(pins) == len(requirements) and {'gradio', 'onnxruntime', 'numpy', 'pillow'} <= set(pins), requirements
    assert not {'torch', 'torchvision', 'fastai', 'timm'} & set(pins), requirements
    settings = (space/'README.md').read_text(encoding='utf-8').split('---\n')[1]
    assert '*.onnx filter=lfs' in (space/'.gitattributes').read_text(encoding='utf-8')  # over 10 MB: Git LFS only
    assert {'sdk: gradio', f"sdk_version: {pins['gradio']}", 'app_file: app.py'} <= set(settings.splitlines()), settings

@pytest.mark.time_limit(60)
def test_the_space_answers_right_on_a_grizzly_and_a_cat(space_app, shared_data):
    from gradio_client import handle_file
    client, _ = space_app
    grizzly = sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[1]
    cat = sorted((shared_data/'not_bears'/'cats').glob('*.jpg'))[0]
    table, first, preds = client.predict([handle_file(str(grizzly)), handle_file(str(cat))], api_name='/classify')
    assert [(p['file'], p['label'], p['in_domain']) for p in preds] == [
        (grizzly.name, 'grizzly', True), (cat.name, 'not_a_bear', False)], preds
    assert preds[0]['probability'] > 0.9 and sorted(preds[0]['probs']) == ['black', 'grizzly', 'teddy'], preds
    assert preds[1]['verdict'].startswith('Not a bear, as far as the model can tell'), preds
    assert '| Grizzly bear (' in table and '| Not a bear, as far as the model can tell (' in table, table
    assert first['label'] == 'grizzly bear', first  # `gr.Label`: the first photo's probabilities

@pytest.mark.time_limit(60)
def test_a_phone_photo_heic_is_read(space_app, shared_data, tmp_path):
    "iPhones save HEIC: the Space's requirements include pillow-heif, which reads it"
    from gradio_client import handle_file
    import pillow_heif
    from PIL import Image
    heic = tmp_path/'grizzly.heic'
    with Image.open(sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[2]) as im:
        pillow_heif.from_pillow(im.convert('RGB')).save(heic, quality=80)
    table, first, preds = space_app[0].predict([handle_file(str(heic))], api_name='/classify')
    assert (preds[0]['file'], preds[0].get('label')) == ('grizzly.heic', 'grizzly'), preds

@pytest.mark.time_limit(60)
def test_bad_files_get_their_clear_message(space_app, bad_files):
    from gradio_client import handle_file
    client, _ = space_app
    table, first, preds = client.predict([handle_file(str(f)) for f in bad_files], api_name='/classify')
    assert [p['file'] for p in preds] == [f.name for f in bad_files], preds
    for pred, message in zip(preds, bad_files.values()):
        assert pred['error'].startswith(message) and 'label' not in pred, pred
        assert pred['verdict'] == f"Can't use this file: {pred['error']}", pred
    assert first['label'] == "Can't use this file", first
    assert 'Traceback' not in table and table.count("Can't use this file") == len(bad_files), table

def test_the_space_runs_without_torch_or_fastai(space_app, space_python):
    "It answered (above) in an environment where neither can be imported: nothing in it imports them"
    done = subprocess.run([str(space_python), '-c', 'import importlib.util as u; '
                           'print([m for m in ("torch", "fastai", "timm", "torchvision") if u.find_spec(m)])'],
                          capture_output=True, text=True, env=clean_env(), timeout=60)
    assert done.stdout.strip() == '[]', done.stdout + done.stderr
