"""The prediction log under stress: several processes writing at once, a writer killed at a random moment or inside
`forget`'s transaction, old predictions forgotten while others write, a new log opened by several at once, a log
from an older bearclf updated by several processes opening it at once, and nothing written when logging is off; and
a `--log` that can't be a log, from a terminal; photos not kept reaching no byte of the file, retention applied as rows
are added and by `bearclf log prune`, exactly; an old log's NOT NULL photos rebuilt away; and a log read through
`bearclf review list` and `bearclf report` on a file the process can't write."""
import os, shutil, signal, sqlite3, subprocess, sys, textwrap, time
from contextlib import closing
from pathlib import Path
import pandas as pd
import pytest
from PIL import Image
from bearclf.core import Prediction
from bearclf.log import PredictionLog

WRITER = textwrap.dedent('''
    import os, sys
    from PIL import Image
    from bearclf.core import Prediction
    from bearclf.log import PredictionLog
    path, writer, n, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if mode == 'open-together': print('ready', flush=True); sys.stdin.readline()  # open the log when the others do
    log = PredictionLog(path)
    im = Image.new('RGB', (64, 48), (writer * 40 % 256, 90, 30))
    def pred(i): return Prediction(f'w{writer}-{i}.jpg', 'grizzly', 0.9, dict(black=0.05, grizzly=0.9, teddy=0.05),
                                   in_domain=True, domain=0.8)
    if mode == 'die-in-forget':  # `forget` deletes the reviews, then the predictions, in one transaction: die in between
        for i in range(n): log.add(pred(i), im, 'model')
        for i in range(1, n + 1, 2): log.mark(i, 'wrong')
        log.db.execute("UPDATE predictions SET time = '2000-01-01T00:00:00Z'")
        class DieAfterDeletingReviews:
            def __init__(self, db): self.db = db
            def execute(self, sql, *args):
                cursor = self.db.execute(sql, *args)
                if sql.startswith('DELETE FROM reviews'): print(cursor.rowcount, flush=True); os._exit(9)
                return cursor
        log.db = DieAfterDeletingReviews(log.db)
        log.forget('2001-01-01T00:00:00Z', keep_reviewed=False)
    if mode == 'together': print('ready', flush=True); sys.stdin.readline()  # start writing when the others do
    for i in range(n):
        log.add(pred(i), im, 'model')
        if mode == 'slow': print(i, flush=True)
''')

def writer(path, i, n, mode='plain'):
    return subprocess.Popen([sys.executable, '-c', WRITER, str(path), str(i), str(n), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

def check_database(path:Path):
    "The file is a sound SQLite database and every row in it is complete"
    db = sqlite3.connect(path)
    assert db.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    # a row's photo and thumbnail are both kept, whole, or both removed (by the retention limits)
    incomplete = db.execute('SELECT COUNT(*) FROM predictions WHERE time IS NULL OR image_sha256 IS NULL OR (thumbnail IS NULL) != (photo IS NULL) '
                            'OR model IS NULL OR label IS NULL OR probability IS NULL OR probs IS NULL OR length(thumbnail) < 100 OR length(photo) < 100').fetchone()[0]
    assert incomplete == 0
    db.close()

@pytest.mark.time_limit(120)
def test_concurrent_writers_lose_nothing(tmp_path):
    path, writers, n = tmp_path/'log.sqlite', 5, 60
    procs = [writer(path, i, n, 'together') for i in range(writers)]
    for p in procs: assert p.stdout.readline() == 'ready\n'  # all loaded and connected: now they all write at once
    for p in procs: p.stdin.write('go\n'); p.stdin.flush()
    for p in procs: assert p.wait(timeout=100) == 0
    check_database(path)
    logged = PredictionLog(path).frame()
    assert len(logged) == writers * n
    assert sorted(logged.file) == sorted(f'w{w}-{i}.jpg' for w in range(writers) for i in range(n))
    assert logged.id.is_unique

@pytest.mark.time_limit(60)
def test_a_writer_killed_inside_forget_deletes_nothing(tmp_path):
    "`forget` is the log's one transaction of several statements: a process killed between them must undo all of them"
    path = tmp_path/'log.sqlite'
    proc = writer(path, 1, 10, 'die-in-forget')
    assert (proc.wait(timeout=50), proc.stdout.read()) == (9, '5\n')  # it had deleted the 5 reviews when it died
    check_database(path)
    log = PredictionLog(path)
    logged = log.frame()
    assert sorted(logged.file) == sorted(f'w1-{i}.jpg' for i in range(10)), logged  # every prediction...
    assert logged.reviewed.notna().tolist() == [True, False] * 5, logged  # ...and every review is still there
    assert log.forget('2001-01-01T00:00:00Z', keep_reviewed=False) == 10  # and the next forget does it all
    assert (len(log), log.db.execute('SELECT COUNT(*) FROM reviews').fetchone()[0]) == (0, 0)
    log.close()

@pytest.mark.time_limit(60)
def test_a_writer_killed_at_any_moment_leaves_a_sound_database(tmp_path):
    path = tmp_path/'log.sqlite'
    for delay_rows in (3, 17, 41):
        proc = writer(path, delay_rows, 10_000, 'slow')
        for _ in range(delay_rows): proc.stdout.readline()  # it has committed this many rows by now
        proc.send_signal(signal.SIGKILL); proc.wait()
        check_database(path)
        assert len(PredictionLog(path)) >= delay_rows

@pytest.mark.time_limit(120)
def test_forgetting_while_others_write_loses_none_of_their_rows(tmp_path):
    path, writers, n = tmp_path/'log.sqlite', 3, 60
    log = PredictionLog(path)
    for i in range(40): log.add(Prediction(f'old-{i}.jpg', 'teddy', 0.9, dict(black=0.05, grizzly=0.05, teddy=0.9)), Image.new('RGB', (9, 9)), 'model')
    log.db.execute("UPDATE predictions SET time = '2000-01-01T00:00:00Z'")  # long before any writer's rows, whatever today is
    log.mark(1, 'right')
    procs = [writer(path, i, n, 'together') for i in range(writers)]
    for p in procs: assert p.stdout.readline() == 'ready\n'
    for p in procs: p.stdin.write('go\n'); p.stdin.flush()
    forgotten = 0
    while any(p.poll() is None for p in procs):  # again and again, as they write
        forgotten += log.forget('2001-01-01T00:00:00Z')
        time.sleep(0.02)
    for p in procs: assert p.wait(timeout=100) == 0
    forgotten += log.forget('2001-01-01T00:00:00Z')
    assert forgotten == 39  # every old prediction but the reviewed one, each deleted once
    check_database(path)
    logged = log.frame()
    assert pd.isna(logged.file[0]) and not logged.has_photo[0]  # the reviewed old one stays, without its photo and name: older than the writers' 30 days
    assert sorted(logged.file[1:]) == sorted(f'w{w}-{i}.jpg' for w in range(writers) for i in range(n))
    assert logged.id.is_unique and logged.right.sum() == 1
    log.close()

@pytest.mark.time_limit(60)
def test_many_opening_a_new_log_at_once_all_get_it(tmp_path):
    "Six connections opening a new log at the same moment, 100 times over: switching it to WAL makes none of them fail"
    import threading
    from bearclf.log import _connect
    for trial in range(100):  # in about one trial in ten, SQLite told one of the six it was locked, without waiting
        path, errors, start = tmp_path/f'{trial}.sqlite', [], threading.Barrier(6)
        def open_it():
            start.wait()
            try: _connect(path).close()
            except Exception as e: errors.append(e)
        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert not errors, (trial, errors)

# the predictions table as bearclf wrote it before the "none of these" check: `bear`, the not-a-bear gate's score, no `domain`
OLD_PREDICTIONS = """CREATE TABLE predictions (id INTEGER PRIMARY KEY, time TEXT NOT NULL, image_sha256 TEXT NOT NULL,
    thumbnail BLOB NOT NULL, photo BLOB NOT NULL, file TEXT, model TEXT NOT NULL, label TEXT NOT NULL,
    probability REAL NOT NULL, probs TEXT NOT NULL, bear REAL)"""

@pytest.mark.time_limit(120)
def test_an_old_log_opened_by_writers_at_once_is_updated_once(tmp_path):
    "Five processes open a log from before `domain` at the same moment: it gets the column once, with `bear` copied in"
    path, writers, n = tmp_path/'log.sqlite', 5, 20
    with closing(sqlite3.connect(path)) as db:
        db.execute('PRAGMA journal_mode=WAL')  # as every bearclf log is
        db.execute(OLD_PREDICTIONS)
        db.executemany("INSERT INTO predictions (time, image_sha256, thumbnail, photo, model, label, probability, probs, bear) "
                       "VALUES ('2026-11-01T10:00:00Z', ?, x'ff', x'ff', 'old', 'teddy', 0.9, ?, ?)",
                       [(f'sha{i}', '{"black": 0.05, "grizzly": 0.05, "teddy": 0.9}', i/10) for i in range(10)])
        db.commit()
    procs = [writer(path, i, n, 'open-together') for i in range(writers)]
    for p in procs: assert p.stdout.readline() == 'ready\n'
    for p in procs: p.stdin.write('go\n'); p.stdin.flush()
    for p in procs: assert p.wait(timeout=100) == 0  # a second ALTER TABLE would have failed one of them
    logged = PredictionLog(path).frame()
    assert len(logged) == 10 + writers * n
    # the old rows' gate scores, copied once: copied again, after a writer's rows went in, theirs would be NULL
    assert logged.domain.tolist() == [i/10 for i in range(10)] + [0.8] * (writers * n)

@pytest.mark.time_limit(90)
def test_no_log_writes_nothing_and_the_default_log_writes_each_prediction(shared_data, tmp_path):
    from bearclf.core import data_home
    from bearclf.train import trained_bears
    trained_bears()
    photos = [sorted((shared_data/'bears'/'black').glob('*.jpg'))[0], sorted((shared_data/'not_bears').rglob('*.jpg'))[0]]
    home = tmp_path/'home'
    env = os.environ | dict(BEARCLF_HOME=str(home))
    env.pop('BEARCLF_LOG', None)
    model = str(data_home()/'models'/'default')
    done = subprocess.run([shutil.which('bearclf'), 'predict', '--model', model, '--no-log', *map(str, photos)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not home.exists() or not list(home.rglob('*.sqlite*'))
    done = subprocess.run([shutil.which('bearclf'), 'predict', '--model', model, *map(str, photos), str(tmp_path)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    logged = PredictionLog(home/'predictions.sqlite').frame()
    assert len(logged) == len(photos)  # the folder is no photo, so not a prediction
    assert logged.file.isna().all() and not logged.has_photo.any()  # predict keeps no photo, nor its name, unless asked
    assert logged.label.tolist()[1] == 'not_a_bear'

def bad_logs(d:Path)->dict: # a name for each: the path
    "Files that can't be a prediction log: a text file, a folder, a path under a file, another program's database"
    (d/'notes.txt').write_text('my notes, not a database', encoding='utf-8')
    (d/'photos').mkdir()
    sqlite3.connect(d/'music.sqlite').execute('CREATE TABLE songs (title TEXT)').connection.close()
    return {'text file': d/'notes.txt', 'folder': d/'photos', 'under a file': d/'notes.txt'/'log.sqlite',
            'another database': d/'music.sqlite'}

@pytest.mark.time_limit(60)
def test_a_log_that_cant_be_one_is_a_one_line_error(tmp_path):
    "`bearclf review list --log X` (no PyTorch: quick) on each kind of file that can't be a log"
    bad = bad_logs(tmp_path)
    for kind in ('text file', 'folder', 'another database'):  # review reads a log that exists, so not 'under a file'
        where = bad[kind]
        done = subprocess.run([shutil.which('bearclf'), 'review', 'list', '--log', str(where)], capture_output=True, text=True)
        assert (done.returncode, done.stderr.count('\n')) == (1, 1), (kind, done.stderr)
        assert done.stderr.startswith(f'bearclf review: error: ') and str(where) in done.stderr, (kind, done.stderr)

@pytest.mark.time_limit(120)
def test_predict_with_a_log_it_cant_write_is_a_one_line_error(shared_data, tmp_path):
    from bearclf.core import data_home
    from bearclf.train import trained_bears
    trained_bears()
    photo = sorted((shared_data/'bears'/'black').glob('*.jpg'))[0]
    wheres = [bad_logs(tmp_path)['under a file']]
    if Path('/proc/self').is_dir(): wheres.append(Path('/proc/predictions.sqlite'))  # Linux: even root can't write there
    for where in wheres:
        done = subprocess.run([shutil.which('bearclf'), 'predict', '--model', str(data_home()/'models'/'default'),
                               '--log', str(where), str(photo)], capture_output=True, text=True)
        assert (done.returncode, done.stderr.count('\n')) == (1, 1), (where, done.stderr)
        assert done.stderr.startswith(f'bearclf predict: error: ') and str(where) in done.stderr, (where, done.stderr)


def real_photos(shared_data, n=3)->list:
    return [fn for label in ('black', 'grizzly', 'teddy') for fn in sorted((shared_data/'bears'/label).glob('*.jpg'))[:n]]

def fake_pred(fn:Path)->Prediction:
    return Prediction(str(fn), 'grizzly', 0.9, dict(black=0.05, grizzly=0.9, teddy=0.05), in_domain=True, domain=0.8)

def raw_bytes(path:Path)->bytes:
    "The database file and whatever SQLite keeps beside it (-wal, -shm, -journal)"
    return b''.join(f.read_bytes() for f in path.parent.glob(path.name + '*'))

JPEG_START = b'\xff\xd8\xff'

def test_photos_not_kept_reach_no_byte_of_the_file(shared_data, tmp_path):
    path = tmp_path/'log.sqlite'
    log = PredictionLog(path, keep_photos=False)
    photos = real_photos(shared_data)
    for fn in photos: log.add(fake_pred(fn), Image.open(fn).convert('RGB'), 'model')
    assert (tmp_path/'log.sqlite-wal').exists()  # still open: the rows may be in the -wal file only
    for raw in (raw_bytes(path), (tmp_path/'log.sqlite-wal').read_bytes()):
        assert JPEG_START not in raw
        assert not [fn.name for fn in photos if fn.name.encode() in raw or fn.stem.encode() in raw]
    assert len(log) == len(photos) and not log.frame().has_photo.any()
    log.close()
    assert JPEG_START not in raw_bytes(path)
    kept = PredictionLog(tmp_path/'kept.sqlite')  # the check can see them: kept, they are there
    kept.add(fake_pred(photos[0]), Image.open(photos[0]).convert('RGB'), 'model')
    assert JPEG_START in raw_bytes(tmp_path/'kept.sqlite') and photos[0].name.encode() in raw_bytes(tmp_path/'kept.sqlite')
    kept.close()

def test_retention_is_applied_by_add(shared_data, tmp_path):
    "An old prediction loses its photo the next time a row is added; then the oldest beyond the size limit"
    photos = real_photos(shared_data, 2)
    log = PredictionLog(tmp_path/'log.sqlite', keep_days=10, keep_mb=None)
    for fn in photos[:3]: log.add(fake_pred(fn), Image.open(fn).convert('RGB'), 'model')
    log.db.execute("UPDATE predictions SET time = '2026-01-01T00:00:00Z' WHERE id = 1")
    assert log.frame().has_photo.tolist() == [True, True, True]
    log.add(fake_pred(photos[3]), Image.open(photos[3]).convert('RGB'), 'model')
    assert log.frame().has_photo.tolist() == [False, True, True, True]
    sizes = [s for s, in log.db.execute('SELECT length(photo) + length(thumbnail) FROM predictions WHERE id > 1 ORDER BY id')]
    from bearclf.log import PHOTO_PX, jpeg_thumbnail
    im = Image.open(photos[4]).convert('RGB')
    log.keep_mb = (sizes[-1] + len(jpeg_thumbnail(im)) + len(jpeg_thumbnail(im, PHOTO_PX)) + 1) / 1e6  # room for the newest two
    log.add(fake_pred(photos[4]), im, 'model')
    assert log.frame().has_photo.tolist() == [False, False, False, True, True]  # the newest two kept
    assert len(log) == 5
    log.close()

def bearclf_run(*args)->subprocess.CompletedProcess:
    return subprocess.run([shutil.which('bearclf'), *map(str, args)], capture_output=True, text=True)

@pytest.mark.time_limit(60)
def test_log_prune_removes_what_its_limits_say_and_nothing_else(shared_data, tmp_path):
    path = tmp_path/'log.sqlite'
    log = PredictionLog(path, keep_days=None, keep_mb=None)
    photos = real_photos(shared_data, 3)  # 9 rows: ids 1-9
    for fn in photos: log.add(fake_pred(fn), Image.open(fn).convert('RGB'), 'model')
    # ids 1-3 made 60, 50, 40 days ago; the rest 9 to 4 days ago, oldest first
    log.db.execute("UPDATE predictions SET time = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', "
                   "printf('-%d days', CASE WHEN id <= 3 THEN 70 - 10 * id ELSE 13 - id END))")
    log.mark(1, 'right'); log.mark(5, 'teddy')
    before = {id: (thumb, photo, file) for id, thumb, photo, file in log.db.execute('SELECT id, thumbnail, photo, file FROM predictions')}
    predictions = log.db.execute('SELECT id, time, image_sha256, model, label, probability, probs, domain FROM predictions').fetchall()
    reviews = log.db.execute('SELECT * FROM reviews').fetchall()
    sizes = {id: len(t) + len(p) for id, (t, p, _) in before.items()}
    log.close()
    room = (sizes[9] + sizes[8] + sizes[7] + 1) / 1e6  # the newest three fit, not a fourth
    watcher = sqlite3.connect(path)  # another process's connection: prune's closing is not the last, so no checkpoint then
    watcher.execute('SELECT COUNT(*) FROM predictions').fetchall()
    done = bearclf_run('log', 'prune', '--log', path, '--keep-days', 30, '--keep-mb', f'{room:.9f}')
    assert done.returncode == 0, done.stderr
    kept_mb = (sizes[7] + sizes[8] + sizes[9]) / 1e6
    assert done.stdout == f'6 photo(s) removed from {path}; 9 prediction(s) kept, 3 with photos ({kept_mb:.1f} MB)\n'
    db = sqlite3.connect(path)
    after = {id: (thumb, photo, file) for id, thumb, photo, file in db.execute('SELECT id, thumbnail, photo, file FROM predictions')}
    assert [id for id, row in after.items() if row == (None, None, None)] == [1, 2, 3, 4, 5, 6]
    assert {id: after[id] for id in (7, 8, 9)} == {id: before[id] for id in (7, 8, 9)}  # byte for byte
    assert db.execute('SELECT id, time, image_sha256, model, label, probability, probs, domain FROM predictions').fetchall() == predictions
    assert db.execute('SELECT * FROM reviews').fetchall() == reviews
    db.close()
    assert not any(before[id][1] in raw_bytes(path) for id in range(1, 7))  # overwritten, and out of the -wal file too
    watcher.close()
    assert bearclf_run('log', 'prune', '--log', path).stdout.startswith('0 photo(s) removed')

# the predictions table as bearclf wrote it before photos could go unkept
NOT_NULL_PREDICTIONS = """CREATE TABLE predictions (id INTEGER PRIMARY KEY, time TEXT NOT NULL, image_sha256 TEXT NOT NULL,
    thumbnail BLOB NOT NULL, photo BLOB NOT NULL, file TEXT, model TEXT NOT NULL, label TEXT NOT NULL,
    probability REAL NOT NULL, probs TEXT NOT NULL, domain REAL)"""

def test_an_old_log_with_photos_required_is_rebuilt_with_every_row(tmp_path):
    path = tmp_path/'log.sqlite'
    probs = '{"black": 0.05, "grizzly": 0.05, "teddy": 0.9}'
    rows = [(id, f'2026-11-{id:02d}T10:00:00Z', f'sha{id}', bytes([id]) * 200, bytes([id + 1]) * 300, f'{id}.jpg', 'old', 'teddy', 0.9, probs, id / 10)
            for id in (2, 5, 9)]
    with closing(sqlite3.connect(path)) as db:
        db.execute('PRAGMA journal_mode=WAL')
        db.execute(NOT_NULL_PREDICTIONS)
        db.execute('CREATE TABLE reviews (prediction INTEGER PRIMARY KEY REFERENCES predictions(id), time TEXT NOT NULL, right INTEGER NOT NULL, truth TEXT)')
        db.executemany('INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', rows)
        db.execute("INSERT INTO reviews VALUES (5, '2026-11-06T00:00:00Z', 0, 'black')")
        db.commit()
    log = PredictionLog(path, keep_photos=False, keep_days=None, keep_mb=None)
    assert log.db.execute('SELECT * FROM predictions ORDER BY id').fetchall() == rows
    assert log.db.execute('SELECT prediction, truth FROM reviews').fetchall() == [(5, 'black')]
    assert log.add(fake_pred(Path('new.jpg')), Image.new('RGB', (32, 32)), 'model') == 10  # no photo: allowed now
    assert [c[1] for c in log.db.execute('PRAGMA table_info(predictions)') if c[3]] == \
        ['time', 'image_sha256', 'model', 'label', 'probability', 'probs']
    log.close()
    check_database(path)

def unwritable(path:Path):
    "Make `path` a file this process can't write: `chattr +i` as root (root ignores modes), else mode 0o444"
    if os.geteuid() == 0:
        done = subprocess.run(['chattr', '+i', str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            if os.environ.get('CI'): pytest.fail(f'chattr +i failed: {done.stderr}')
            pytest.skip(f'chattr +i failed: {done.stderr}')
    else: path.chmod(0o444)
    try: open(path, 'r+b').close()
    except OSError: return
    if os.environ.get('CI'): pytest.fail(f'{path} is still writable')
    pytest.skip(f'{path} is still writable')

@pytest.mark.time_limit(60)
def test_review_list_and_report_read_a_log_they_cant_write(tmp_path):
    from bearclf.core import data_home
    model = data_home()/'models'/'default'
    if not (model/'model_card.json').exists(): pytest.skip('no trained model (the report reads its card)')
    import json
    card = json.loads((model/'model_card.json').read_text(encoding='utf-8'))
    path = tmp_path/'log.sqlite'
    log = PredictionLog(path)
    for i, label in enumerate(card['classes']):
        probs = {c: 0.8 if c == label else 0.1 for c in card['classes']}
        log.add(Prediction(f'{i}.jpg', label, 0.8, probs, in_domain=True, domain=0.9), Image.new('RGB', (16, 16), (60*i, 90, 30)), card['weights_sha256'])
    log.mark(1, 'right')
    log.close()
    before = path.read_bytes()
    unwritable(path)
    try:
        listed = bearclf_run('review', 'list', '--log', path, '--all')
        assert listed.returncode == 0, listed.stderr
        assert [line.split('\t')[0] for line in listed.stdout.splitlines()] == ['1', '2', '3']
        report = bearclf_run('report', '--model', model, '--log', path, '--json')
        assert report.returncode == 0, report.stderr
        assert json.loads(report.stdout)['reviews']['reviewed'] == 1
        marked = bearclf_run('review', 'mark', '--log', path, '2', 'right')  # writing it is refused, in one line
        assert (marked.returncode, marked.stderr.count('\n')) == (1, 1), marked.stderr
        assert path.read_bytes() == before
    finally:
        if os.geteuid() == 0: subprocess.run(['chattr', '-i', str(path)])
        path.chmod(0o644)
