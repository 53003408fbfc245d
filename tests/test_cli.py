"""The `bearclf` command as a user runs it: `--help` everywhere, one-line usage errors, exit codes scripts can trust,
user errors as one line and bugs with their traceback, the safe model format for `clean review`, and light commands
that don't load PyTorch."""
import json, pickle, shutil, subprocess, sys, textwrap
from pathlib import Path
import pytest

COMMANDS = [[], ['gather'], ['train'], ['clean'], ['clean', 'review'], ['clean', 'apply'], ['clean', 'undo'],
            ['predict'], ['app'], ['review'], ['review', 'list'], ['review', 'mark'], ['review', 'export'],
            ['report'], ['log'], ['log', 'prune'], ['export'], ['space'], ['docs']]

def bearclf(*args, cwd=None, timeout=60):
    "Run the installed `bearclf` command"
    return subprocess.run([shutil.which('bearclf'), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)

def one_line_error(done, command:str)->str:
    "The message of `done`'s one-line error, after checking it is one: exit code 1, one line on stderr, no traceback"
    assert (done.returncode, done.stderr.count('\n')) == (1, 1), (done.returncode, done.stderr)
    assert done.stderr.startswith(f'bearclf {command}: error: '), done.stderr
    return done.stderr.removeprefix(f'bearclf {command}: error: ').strip()

@pytest.mark.parametrize('command', COMMANDS, ids=lambda c: ' '.join(c) or 'bearclf')
def test_help(command):
    done = bearclf(*command, '--help')
    assert (done.returncode, done.stderr) == (0, '')
    assert done.stdout.startswith(f"usage: {' '.join(['bearclf', *command])} "), done.stdout
    assert '--debug' in done.stdout
    if command == []:
        names = ('gather', 'train', 'clean', 'predict', 'app', 'review', 'report', 'log', 'export', 'space', 'docs')
        assert [name for name in names if f'    {name} ' not in done.stdout] == []
    if command == ['train']: assert '--epochs INT' in done.stdout and '--no-augment' in done.stdout  # from `Recipe`

@pytest.mark.parametrize('args, error', [
    ([], 'bearclf: error: the following arguments are required: COMMAND (see bearclf --help)'),
    (['bake'], "bearclf: error: argument COMMAND: invalid choice: 'bake'"),
    (['train', '--data', 'x'], 'bearclf train: error: the following arguments are required: --out (see bearclf train --help)'),
    (['train', '--data', 'x', '--out', 'y', '--epochs', 'many'], "bearclf train: error: argument --epochs: invalid int value: 'many'"),
    (['predict'], 'bearclf predict: error: the following arguments are required: PHOTO'),
    (['app', '--port', 'http'], "bearclf app: error: argument --port: invalid int value: 'http'"),
    (['clean', 'apply', 'decisions.csv'], 'bearclf clean apply: error: the following arguments are required: --data'),
    (['log', 'prune', '--keep-days', 'soon'], "bearclf log prune: error: argument --keep-days: 'soon' is not a number of at least 0, nor none"),
    (['app', '--keep-mb', '-5'], "bearclf app: error: argument --keep-mb: '-5' is not a number of at least 0, nor none"),
])
def test_usage_errors_are_one_line_and_exit_2(args, error):
    done = bearclf(*args)
    assert (done.returncode, done.stdout) == (2, '')
    assert done.stderr.count('\n') == 1 and done.stderr.startswith(error), done.stderr

@pytest.mark.time_limit(90)  # five commands that each load PyTorch
def test_bad_data_is_a_one_line_error_and_exit_1(tmp_path):
    for args in (['train', '--data', tmp_path, '--out', tmp_path/'model'], ['predict', '--model', tmp_path, 'photo.jpg'],
                 ['app', '--model', tmp_path], ['clean', 'undo', '--data', tmp_path/'missing']):
        one_line_error(bearclf(*args), args[0])
    done = bearclf('docs', cwd=tmp_path)
    assert (done.returncode, done.stderr) == (1, 'bearclf docs: error: bearclf docs builds the site of a clone of the bearclf repository: no settings.ini here or above\n')

LIGHT = textwrap.dedent('''
    import sys
    from bearclf.cli import main
    try: code = main(sys.argv[1:])
    except SystemExit as e: code = e.code
    print(code, *sorted(m for m in ('fastai', 'timm', 'torch') if m in sys.modules))
''')

def light_run(*args)->list:
    "The exit code of `bearclf *args`, run in a fresh Python, then whichever of fastai, timm and torch it imported"
    done = subprocess.run([sys.executable, '-c', LIGHT, *map(str, args)], capture_output=True, text=True, timeout=60)
    return done.stdout.splitlines()[-1].split()

@pytest.mark.parametrize('command', [c for c in COMMANDS if c != ['train']], ids=lambda c: ' '.join(c) or 'bearclf')
def test_help_is_fast(command):
    "`--help` must not load PyTorch (it takes seconds); only `train`'s, whose options are `Recipe`'s fields, does"
    assert light_run(*command, '--help') == ['0']

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "A dataset of random photos, and a model trained on it in a few seconds by `bearclf train`"
    from bearclf.data import fake_bears
    d = tmp_path_factory.mktemp('tiny')
    data = fake_bears(d/'bears', n=4)
    done = bearclf('train', '--data', data, '--out', d/'model', '--size', '32', '--bs', '4', '--freeze-epochs', '1',
                   '--epochs', '0', '--no-augment', timeout=120)
    assert done.returncode == 0, done.stderr
    return data, d/'model'

class _RunsCode:
    "Unpickled, it writes the file `marker`: what any code in a pickle could do"
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (Path.touch, (Path(self.marker),))

@pytest.mark.time_limit(180)
def test_clean_review_never_unpickles(tiny, tmp_path):
    "`clean review` reads model.safetensors and the card: a model.pkl that runs code when unpickled is never opened"
    data, trained = tiny
    model, marker = tmp_path/'model', tmp_path/'unpickled'
    shutil.copytree(trained, model)
    (model/'model.pkl').write_bytes(pickle.dumps(_RunsCode(marker)))
    done = bearclf('clean', 'review', '--model', model, '--data', data, '--out', tmp_path/'review.csv', timeout=120)
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), 'model.pkl was unpickled'
    assert 'pickle' not in done.stderr, done.stderr
    rows = (tmp_path/'review.csv').read_text(encoding='utf-8').splitlines()
    assert rows[0] == 'file,label,split,predicted,probability,loss,action'
    assert sorted(r.split(',')[0] for r in rows[1:]) == sorted(f'{p.parent.name}/{p.name}' for p in data.rglob('*.jpg'))

@pytest.mark.time_limit(120)
def test_a_log_that_cant_be_written_or_read_is_one_line(tiny, tmp_path):
    "Exit 1 and one line, before any photo is predicted, for a --log under a file, a folder, or a file that isn't a log"
    data, model = tiny
    notes = tmp_path/'notes.txt'
    notes.write_text('not a database, just notes\n' * 200, encoding='utf-8')
    photo = data/'black'/'0.jpg'
    for log in (notes/'logs'/'predictions.sqlite', tmp_path, notes):
        done = bearclf('predict', '--model', model, '--log', log, photo)
        one_line_error(done, 'predict')
        assert done.stdout == '', done.stdout
    one_line_error(bearclf('review', 'list', '--log', notes), 'review')
    assert notes.read_text(encoding='utf-8') == 'not a database, just notes\n' * 200, 'the notes are untouched'

BUG = textwrap.dedent('''
    import sys
    import bearclf.cli as cli
    def undo(args): raise ValueError('a bug, not a mistake of the user')
    cli._undo = undo
    sys.exit(cli.main(sys.argv[1:]))
''')

def test_a_bug_keeps_its_traceback(tmp_path):
    "A plain `ValueError` from inside a command is a bug: Python's traceback and exit code, not a tidy line"
    done = subprocess.run([sys.executable, '-c', BUG, 'clean', 'undo', '--data', tmp_path], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith('Traceback (most recent call last):'), done.stderr
    assert done.stderr.endswith('ValueError: a bug, not a mistake of the user\n'), done.stderr

@pytest.mark.parametrize('where', ['before', 'after'])
def test_debug_shows_the_traceback_of_a_user_error(tmp_path, where):
    args = ['clean', 'undo', '--data', tmp_path/'missing']
    done = bearclf(*(['--debug', *args] if where == 'before' else [*args, '--debug']))
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith('Traceback (most recent call last):'), done.stderr
    assert done.stderr.endswith(f'FileNotFoundError: {tmp_path}/missing is not a folder\n'), done.stderr

@pytest.mark.time_limit(60)
def test_predict_loads_no_pytorch(tiny, shared_data):
    "`bearclf predict` answers through ONNX Runtime, from the `model.onnx` that `bearclf train` wrote: no torch, timm or fastai"
    assert (tiny[1]/'model.onnx').exists()
    grizzly = sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[0]
    assert light_run('predict', '--no-log', '--model', tiny[1], grizzly) == ['0']

def test_report_and_review_list_load_no_pytorch(tiny, tmp_path):
    "`bearclf report` and `bearclf review list` read a SQLite log and a JSON card: no torch, timm or fastai"
    from PIL import Image
    from bearclf.core import Prediction
    from bearclf.log import PredictionLog
    _, model = tiny
    card = json.loads((model/'model_card.json').read_text(encoding='utf-8'))
    log = PredictionLog(tmp_path/'log.sqlite')
    for i, label in enumerate(card['classes']):
        probs = {c: 0.8 if c == label else 0.1 for c in card['classes']}
        log.add(Prediction(f'{i}.jpg', label, 0.8, probs, in_domain=True, domain=0.9), Image.new('RGB', (16, 16), (60*i, 90, 30)),
                card['weights_sha256'])
    log.mark(1, 'right')
    log.close()
    assert light_run('report', '--model', model, '--log', tmp_path/'log.sqlite', '--json') == ['0']
    assert light_run('review', 'list', '--log', tmp_path/'log.sqlite') == ['0']

@pytest.mark.time_limit(90)
def test_predict_keeps_no_photo_unless_asked(model_dir, shared_data, tmp_path):
    "`bearclf predict` logs the prediction but not the photo, nor its name; `--keep-photos` keeps both"
    from bearclf.log import PredictionLog
    photo = sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[0]
    for args, kept in (([], False), (['--keep-photos'], True), (['--no-keep-photos'], False)):
        log = tmp_path/f'{kept}{len(args)}.sqlite'
        done = bearclf('predict', '--model', model_dir, '--log', log, *args, photo)
        assert done.returncode == 0, done.stderr
        logged = PredictionLog(log, read_only=True).frame()
        assert logged.has_photo.tolist() == [kept], args
        assert logged.file.tolist() == ([str(photo)] if kept else [None]), args
        assert logged.label.notna().all()
        raw = b''.join(f.read_bytes() for f in tmp_path.glob(log.name + '*'))
        assert (b'\xff\xd8\xff' in raw, photo.stem.encode() in raw) == (kept, kept), args

def test_app_hands_its_photo_options_to_the_kernels(tmp_path, monkeypatch):
    "`bearclf app`'s kernels call `open_log()` with no arguments: the options reach them as environment variables"
    import bearclf.cli as cli
    from bearclf.log import open_log
    for name in ('BEARCLF_LOG', 'BEARCLF_KEEP_PHOTOS', 'BEARCLF_KEEP_DAYS', 'BEARCLF_KEEP_MB', 'BEARCLF_MODEL',
                 'BEARCLF_IDLE_MINUTES', 'BEARCLF_MAX_UPLOAD_MB'):
        monkeypatch.delenv(name, raising=False)  # and put back as they were: `bearclf app` sets them
    monkeypatch.setattr(cli, 'read_card', lambda model: {})
    monkeypatch.setattr('bearclf.serve.serve', lambda *args, **kwargs: None)  # no server: only what it hands on
    for argv, settings in (([], (True, 30, 500)), (['--no-keep-photos', '--keep-days', '7', '--keep-mb', 'none'], (False, 7, None))):
        assert cli.main(['app', '--model', str(tmp_path), '--log', str(tmp_path/'log.sqlite'), *argv]) == 0
        log = open_log()
        assert (log.path, log.keep_photos, log.keep_days, log.keep_mb) == (tmp_path/'log.sqlite', *settings)
        log.close()
