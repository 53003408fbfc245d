"""`apply_decisions` and `undo` on real photo files: collisions, repeats, a process killed part-way, undo; and the
course's own decisions (`nbs/course/bear_decisions.csv`, which the cleaning lesson and benchmarks/predict.py read).

The photos are copies of the course photos in `../shared/data/bears`, made in a temporary folder (conftest's `shared_data`:
missing, the tests that need them are skipped, and fail under CI, where they must run). `bearclf clean apply` from a terminal: a decisions
file that names a photo outside `<label>/<file>` is refused whole, and a file as Excel saves it applies.
"""
import csv, hashlib, json, os, shutil, subprocess, sys, textwrap
from collections import Counter
from pathlib import Path
import pytest
from bearclf.core import BEAR_TYPES, UserError
from bearclf.clean import DELETE, Move, apply_decisions, journal, read_decisions, undo

COURSE_DECISIONS = Path(__file__).parents[1]/'nbs'/'course'/'bear_decisions.csv'

@pytest.fixture
def bears(shared_data)->Path: return shared_data/'bears'  # the course photos, from conftest's `shared_data`

def digest(fn:Path)->str: return hashlib.sha256(fn.read_bytes()).hexdigest()

def snapshot(root:Path)->dict:
    "Every photo under `root` (the trash included) as relative path -> hash of its bytes"
    return {fn.relative_to(root).as_posix(): digest(fn) for fn in root.rglob('*.jpg')}

def visible(root:Path)->dict:
    "The photos fastai would see (not the trash)"
    return {k: v for k,v in snapshot(root).items() if not k.startswith('.')}

@pytest.fixture
def root(tmp_path, bears):
    "A dataset of 4 real photos per label, where `black` and `grizzly` both hold a `00000059.jpg` and a `00000060.jpg`"
    root = tmp_path/'bears'
    for label in ('grizzly', 'black', 'teddy'):
        (root/label).mkdir(parents=True)
        names = ['00000059.jpg', '00000060.jpg'] if label != 'teddy' else []
        names += [f'{label}{i}.jpg' for i in range(4 - len(names))]
        for src, name in zip(sorted((bears/label).glob('*.jpg')), names): shutil.copy(src, root/label/name)
    return root

def test_moves_never_overwrite_and_keep_bytes(root):
    before = snapshot(root)
    decisions = {'black/00000059.jpg': 'grizzly', 'teddy/teddy0.jpg': 'grizzly', 'black/00000060.jpg': 'grizzly'}
    moves = apply_decisions(root, decisions)
    assert [(m.src, m.dst) for m in moves] == [('black/00000059.jpg', 'grizzly/00000059_1.jpg'),
                                               ('teddy/teddy0.jpg', 'grizzly/teddy0.jpg'),
                                               ('black/00000060.jpg', 'grizzly/00000060_1.jpg')]
    after = snapshot(root)
    assert sorted(after.values()) == sorted(before.values()), 'no photo lost or changed'
    assert after['grizzly/00000059.jpg'] == before['grizzly/00000059.jpg'], 'the photo already there is untouched'
    assert after['grizzly/00000059_1.jpg'] == before['black/00000059.jpg']

def test_two_photos_with_one_name_moved_to_one_label_in_one_batch(root):
    before = snapshot(root)
    apply_decisions(root, {'black/00000059.jpg': 'teddy', 'grizzly/00000059.jpg': 'teddy'})
    after = snapshot(root)
    assert after['teddy/00000059.jpg'] == before['black/00000059.jpg']
    assert after['teddy/00000059_1.jpg'] == before['grizzly/00000059.jpg']

def test_delete_goes_to_trash_with_journal_and_undo_restores_bytes(root):
    before = snapshot(root)
    moves = apply_decisions(root, {'teddy/teddy1.jpg': DELETE, 'grizzly/00000060.jpg': 'black'})
    trash = f'.trash/{moves[0].batch}/teddy/teddy1.jpg'
    assert snapshot(root)[trash] == before['teddy/teddy1.jpg'], 'deleted means moved to the trash'
    assert 'teddy/teddy1.jpg' not in visible(root)
    assert journal(root) == moves
    assert undo(root) == moves
    assert snapshot(root) == before, 'every byte back in its place'
    assert journal(root)[-1] == {'undone': moves[0].batch}

def test_applying_twice_is_harmless(root):
    decisions = {'teddy/teddy1.jpg': DELETE, 'black/00000059.jpg': 'grizzly'}
    apply_decisions(root, decisions)
    once, entries = snapshot(root), journal(root)
    assert apply_decisions(root, decisions) == []
    assert snapshot(root) == once and journal(root) == entries

def test_undo_goes_back_one_batch_at_a_time(root):
    start = snapshot(root)
    apply_decisions(root, {'teddy/teddy1.jpg': DELETE})
    middle = snapshot(root)
    apply_decisions(root, {'teddy/teddy2.jpg': 'black'})
    undo(root)
    assert snapshot(root) == middle
    undo(root)
    assert snapshot(root) == start
    assert undo(root) == []

def test_bad_decisions_change_nothing(root):
    before = snapshot(root)
    with pytest.raises(UserError, match="'black/00000059.jpg': 'grizly' is neither"):
        apply_decisions(root, {'black/00000059.jpg': 'grizly'})
    with pytest.raises(FileNotFoundError, match='black/nope.jpg'): apply_decisions(root, {'black/nope.jpg': DELETE})
    assert snapshot(root) == before and journal(root) == []

CRASH = textwrap.dedent('''
    import os, sys
    from pathlib import Path
    import bearclf.clean as clean
    real_rename, done = os.rename, []
    def rename(src, dst):  # the process dies, no clean-up, after {n} renames
        if len(done) == {n}: os._exit(9)
        real_rename(src, dst)
        done.append(dst)
    clean.os.rename = rename
    clean.apply_decisions(Path(sys.argv[1]), {decisions!r})
''')

@pytest.mark.parametrize('n', [0, 1, 3])
def test_process_killed_mid_apply_loses_nothing(root, n):
    decisions = {'black/00000059.jpg': 'grizzly', 'teddy/teddy0.jpg': DELETE, 'black/00000060.jpg': 'teddy',
                 'grizzly/grizzly1.jpg': DELETE, 'teddy/teddy3.jpg': 'black'}
    before = snapshot(root)
    res = subprocess.run([sys.executable, '-c', CRASH.format(n=n, decisions=decisions), str(root)])
    assert res.returncode == 9, 'the process died part-way'

    entries = journal(root)
    assert len(entries) == len(decisions), 'the whole plan is in the journal before the first rename'
    done = [m for m in entries if not (root/m.src).exists()]
    assert len(done) == n
    for m in entries: assert (root/m.src).exists() != (root/m.dst).exists(), f'{m}: in exactly one place'
    assert sorted(snapshot(root).values()) == sorted(before.values()), 'nothing lost, nothing duplicated'

    apply_decisions(root, decisions)  # finishing the job
    assert all(not (root/m.src).exists() for m in journal(root) if isinstance(m, Move))
    assert sorted(snapshot(root).values()) == sorted(before.values())
    while undo(root): pass
    assert snapshot(root) == before, 'undo of both batches restores every byte'

def test_review_csv_round_trip(root, tmp_path):
    fn = tmp_path/'review.csv'
    fn.write_text('file,label,split,predicted,probability,loss,action\n'
                  'teddy/teddy1.jpg,teddy,train,black,0.9,2.3, Delete \n'
                  'black/00000059.jpg,black,valid,grizzly,0.8,1.6,grizzly\n'
                  'grizzly/grizzly1.jpg,grizzly,train,grizzly,0.99,0.01,keep\n', encoding='utf-8')
    apply_decisions(root, read_decisions(fn))
    assert 'teddy/teddy1.jpg' not in visible(root) and 'grizzly/00000059_1.jpg' in visible(root)

def test_course_decisions_file_is_complete_and_valid(bears):
    "Every row names a course photo, a valid action, what found it and why"
    with open(COURSE_DECISIONS, newline='', encoding='utf-8') as f: rows = list(csv.DictReader(f))
    assert rows and list(rows[0]) == ['file', 'action', 'found_by', 'note']
    assert len({r['file'] for r in rows}) == len(rows), 'one decision per photo'
    for r in rows:
        label, name = r['file'].split('/')
        assert label in BEAR_TYPES and name.endswith('.jpg'), r
        assert r['action'] == DELETE or (r['action'] in BEAR_TYPES and r['action'] != label), r
        assert r['found_by'] in ('cleaner', 'not-a-bear check') and r['note'], r
    assert read_decisions(COURSE_DECISIONS) == {r['file']: r['action'] for r in rows}
    assert [r['file'] for r in rows if not (bears/r['file']).exists()] == [], 'not among the course photos'

def test_course_decisions_apply_to_a_copy_and_undo(tmp_path, bears):
    "The lesson's step on a copy of just the photos the decisions name, plus one photo per label they leave alone"
    decisions = read_decisions(COURSE_DECISIONS)
    root = tmp_path/'bears'
    keep = [sorted(f.relative_to(bears).as_posix() for f in (bears/label).glob('*.jpg')
                   if f.relative_to(bears).as_posix() not in decisions)[0] for label in BEAR_TYPES]
    for rel in [*decisions, *keep]:
        (root/rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(bears/rel, root/rel)
    before = snapshot(root)
    moves = apply_decisions(root, decisions)
    assert len(moves) == len(decisions)
    counts = Counter(k.split('/')[0] for k in visible(root))
    expected = Counter(rel.split('/')[0] for rel in keep) + Counter(a for a in decisions.values() if a != DELETE)
    assert counts == expected
    assert sorted(snapshot(root).values()) == sorted(before.values()), 'deleted photos are in the trash, not gone'
    assert undo(root) == moves and snapshot(root) == before

def bearclf(*args)->subprocess.CompletedProcess:
    "Run the installed `bearclf` command"
    return subprocess.run([shutil.which('bearclf'), *map(str, args)], capture_output=True, text=True, timeout=60)

@pytest.mark.parametrize('bad', ['../outside.jpg', 'black/../../outside.jpg', 'black', 'black/', '{outside}',
                                 'cats/00000059.jpg', '.trash/x.jpg'])
def test_a_decision_outside_label_file_refuses_the_whole_file(root, bad):
    "From a terminal: one bad row, and not even the good rows beside it move (the acceptance test of issue 17)"
    outside = root.parent/'outside.jpg'
    shutil.copy(root/'teddy'/'teddy1.jpg', outside)
    before, decisions = snapshot(root.parent), root.parent/'decisions.csv'
    decisions.write_text(f'file,action\nteddy/teddy2.jpg,delete\n{bad.format(outside=outside)},grizzly\n', encoding='utf-8')
    done = bearclf('clean', 'apply', '--data', root, decisions)
    assert (done.returncode, done.stdout, done.stderr.count('\n')) == (1, '', 1), done
    assert done.stderr.startswith('bearclf clean: error: 1 decision(s) refused, nothing moved'), done.stderr
    assert repr(bad.format(outside=outside)) in done.stderr, done.stderr
    assert snapshot(root.parent) == before and journal(root) == []

def test_a_symbolic_link_out_of_the_dataset_is_refused(root):
    outside = root.parent/'outside'
    outside.mkdir()
    (root/'black'/'link.jpg').symlink_to(outside/'x.jpg')
    (outside/'x.jpg').write_bytes((root/'teddy'/'teddy1.jpg').read_bytes())
    with pytest.raises(UserError, match="'black/link.jpg': leads outside the dataset"):
        apply_decisions(root, {'black/link.jpg': 'grizzly'})
    assert (outside/'x.jpg').exists() and journal(root) == []

EXCEL = ('\ufeffFile;Label;Split;Predicted;Probability;Loss;Action\r\n'
         'teddy/teddy1.jpg;teddy;train;black;0,9;2,3;Delete\r\n'
         'black/00000059.jpg;black;valid;grizzly;0,8;1,6;grizzly\r\n'
         'grizzly/grizzly1.jpg;grizzly;train;grizzly;0,99;0,01;\r\n')

@pytest.mark.parametrize('separator', [';', ','])
def test_a_csv_saved_by_excel_applies(root, separator):
    "Excel's 'CSV UTF-8': a byte order mark, CRLF line ends, and `;` where the decimal separator is a comma"
    fn = root.parent/'review.csv'
    text = EXCEL if separator == ';' else EXCEL.replace(',', '.').replace(';', ',')
    fn.write_bytes(text.encode('utf-8'))
    assert fn.read_bytes()[:3] == b'\xef\xbb\xbf' and b'\r\n' in fn.read_bytes()
    before = snapshot(root)
    done = bearclf('clean', 'apply', '--data', root, fn)
    assert (done.returncode, done.stderr) == (0, ''), done.stderr
    assert done.stdout == f'2 photo(s) moved; undo with: bearclf clean undo --data {root}\n'
    after = visible(root)
    assert 'teddy/teddy1.jpg' not in after and after['grizzly/00000059_1.jpg'] == before['black/00000059.jpg']
