"""`rollout_report` on a log built by hand, every number checked against one worked out by hand from the table below:
two models, known verdicts (one changed), known probabilities; and a card without confidences, an empty log, a model
that made nothing, the recent window, and the drift verdict at its thresholds; and a model that is not about bears,
reported in its own words."""
import json, subprocess, sys
import pytest
from PIL import Image
from scipy.stats import ks_2samp
from bearclf.core import NONE_OF_THESE, NOT_A_BEAR, Prediction
from bearclf.log import PredictionLog
from bearclf.report import DRIFT_MIN_RECENT, drift, report_lines, rollout_report

A, B = 'a'*64, 'b'*64  # the model the card describes, and another one
CLASSES = ['black', 'grizzly', 'teddy']
REFERENCE = [0.99, 0.98, 0.97, 0.96, 0.95, 0.93, 0.90, 0.85]  # the card's validation confidences; mean 7.53/8
CARD = dict(weights_sha256=A, classes=CLASSES, validation=dict(accuracy=0.9, photos=8, confidences=REFERENCE))

# id, model, label, the classifier's top class and its probability, the reviewer's verdicts (the last one counts)
LOG = [( 1, A, 'grizzly',  'grizzly', 0.90, ['right']),
       ( 2, A, 'black',    'black',   0.80, ['grizzly']),
       ( 3, B, 'teddy',    'teddy',   0.70, ['right']),
       ( 4, A, 'teddy',    'teddy',   0.95, ['right']),
       ( 5, A, 'grizzly',  'grizzly', 0.60, [NOT_A_BEAR]),      # a cat called a grizzly: wrong
       ( 6, A, 'black',    'black',   0.85, ['wrong']),         # wrong, truth unknown: not in the confusion table
       ( 7, A, 'black',    'black',   0.75, []),
       ( 8, B, 'black',    'black',   0.80, ['wrong']),
       ( 9, A, NOT_A_BEAR, 'teddy',   0.50, ['right']),         # the gate turned away a dog: right
       (10, A, 'teddy',    'teddy',   0.65, ['black']),
       (11, A, 'grizzly',  'grizzly', 0.99, ['wrong', 'right']),
       (12, B, 'grizzly',  'grizzly', 0.55, []),
       (13, A, 'black',    'black',   0.70, []),
       (14, A, NOT_A_BEAR, 'black',   0.45, ['teddy']),         # a teddy turned away: wrong
       (15, A, 'teddy',    'teddy',   0.88, ['right']),
       (16, A, 'grizzly',  'grizzly', 0.92, []),
       (17, A, 'black',    'black',   0.97, ['right']),
       (18, A, 'grizzly',  'grizzly', 0.58, ['right']),
       (19, A, 'teddy',    'teddy',   0.81, []),
       (20, B, 'teddy',    'teddy',   0.66, ['right'])]

def build_log(path, rows, classes=CLASSES, outside=NOT_A_BEAR):
    "A log of `rows` by a model of `classes`, the prediction with id `i` made at second `i` of 2026"
    log = PredictionLog(path)
    for i, model, label, top, conf, verdicts in rows:
        probs = {c: conf if c == top else (1-conf)/(len(classes)-1) for c in classes}
        gate = label == outside
        pred = Prediction(f'{i}.jpg', label, 0.98 if gate else conf, probs, in_domain=not gate, domain=0.02 if gate else 0.9)
        assert log.add(pred, Image.new('RGB', (16, 16), (i, 80, 40)), model) == i
        for verdict in verdicts: log.mark(i, verdict)
    log.db.execute("UPDATE predictions SET time = printf('2026-01-01T00:00:%02dZ', id)")
    return log

@pytest.fixture
def frame(tmp_path):
    log = build_log(tmp_path/'log.sqlite', LOG)
    yield log.frame()
    log.close()

def test_every_number(frame):
    report = rollout_report(frame, CARD, recent=6)
    assert report['model'] == A
    assert report['predictions'] == 16                    # 20 rows, less B's 3, 8, 12, 20
    assert report['first'] == '2026-01-01T00:00:01Z'
    assert report['last'] == '2026-01-01T00:00:19Z'      # 20 is B's
    assert report['other_models'] == {B: 4}
    assert report['recent'] == 6
    # reviewed: 1 2 4 5 6 9 10 11 14 15 17 18; right: 1 4 9 11 15 17 18 (11's 'wrong' was taken back)
    assert report['reviews'] == dict(reviewed=12, right=7, accuracy=pytest.approx(7/12), validation_accuracy=0.9)
    # known truths, truth -> label: 17 b->b, 10 b->t; 1 11 18 g->g, 2 g->b; 4 15 t->t, 14 t->n; 5 n->g, 9 n->n
    assert report['confusion'] == {'black':      dict(black=1, grizzly=0, teddy=1, not_a_bear=0),
                                   'grizzly':    dict(black=1, grizzly=3, teddy=0, not_a_bear=0),
                                   'teddy':      dict(black=0, grizzly=0, teddy=2, not_a_bear=1),
                                   NOT_A_BEAR:   dict(black=0, grizzly=1, teddy=0, not_a_bear=1)}
    # A's not_a_bear labels: 9 and 14, of 16; the last 6 of A are 14 15 16 17 18 19
    assert (report['classes'], report['outside_label']) == (CLASSES, NOT_A_BEAR)
    assert report['outside_rate'] == dict(all=pytest.approx(2/16), recent=pytest.approx(1/6))

def test_drift_of_the_recent_window(frame):
    d = rollout_report(frame, CARD, recent=6)['drift']
    recent = [0.45, 0.88, 0.92, 0.97, 0.58, 0.81]  # top class probabilities of 14..19 (14's is black's, not the gate's 0.98)
    assert (d['n_recent'], d['n_reference']) == (6, 8)
    assert d['mean_recent'] == pytest.approx(4.61/6)
    assert d['mean_reference'] == pytest.approx(7.53/8)
    # the largest gap between the two step functions is just after 0.92: 5/6 of recent, 2/8 of the reference
    assert d['statistic'] == pytest.approx(5/6 - 2/8)
    ks = ks_2samp(recent, REFERENCE)
    assert (d['statistic'], d['p_value']) == pytest.approx((ks.statistic, ks.pvalue))
    assert d['verdict'] == 'too few'  # 6 < DRIFT_MIN_RECENT

def test_recent_window_longer_or_shorter_than_the_log(frame):
    everything = rollout_report(frame, CARD, recent=100)
    assert everything['outside_rate']['recent'] == pytest.approx(2/16)
    assert everything['drift']['n_recent'] == 16
    last = rollout_report(frame, CARD, recent=1)  # 19: teddy at 0.81, below every reference confidence
    assert last['outside_rate']['recent'] == 0
    assert (last['drift']['n_recent'], last['drift']['mean_recent'], last['drift']['statistic']) == (1, pytest.approx(0.81), 1)
    assert last['reviews'] == everything['reviews']  # the window is for the rates and drift only

def test_card_without_confidences(frame):
    old = dict(CARD, validation=dict(accuracy=0.9, photos=8))
    report = rollout_report(frame, old, recent=6)
    assert report['drift'] == dict(n_recent=6, n_reference=0, mean_recent=pytest.approx(4.61/6), mean_reference=None,
                                   statistic=None, p_value=None, verdict='unavailable')
    assert report['reviews']['accuracy'] == pytest.approx(7/12)
    assert rollout_report(frame, dict(CARD, validation={}))['reviews']['validation_accuracy'] is None

def test_empty_log(tmp_path):
    report = rollout_report(PredictionLog(tmp_path/'log.sqlite').frame(), CARD)
    assert report == dict(model=A, predictions=0, first=None, last=None, other_models={}, recent=100,
                          classes=CLASSES, outside_label=NOT_A_BEAR,
                          reviews=dict(reviewed=0, right=0, accuracy=None, validation_accuracy=0.9),
                          confusion={t: dict.fromkeys([*CLASSES, NOT_A_BEAR], 0) for t in [*CLASSES, NOT_A_BEAR]},
                          outside_rate=dict(all=None, recent=None),
                          drift=dict(n_recent=0, n_reference=8, mean_recent=None, mean_reference=pytest.approx(7.53/8),
                                     statistic=None, p_value=None, verdict='too few'))
    assert json.loads(json.dumps(report)) == report

def test_a_model_that_made_nothing(frame):
    report = rollout_report(frame, dict(CARD, weights_sha256='c'*64))
    assert (report['predictions'], report['other_models']) == (0, {A: 16, B: 4})

def test_drift_verdict_at_its_thresholds():
    assert DRIFT_MIN_RECENT == 30
    below = drift([0.5]*30, REFERENCE)  # every recent confidence under every reference one: the gap is 1
    assert below['statistic'] == 1
    assert below['p_value'] == pytest.approx(ks_2samp([0.5]*30, REFERENCE).pvalue)
    assert below['verdict'] == 'drift'  # 30 recent predictions are enough to judge
    assert drift([0.5]*29, REFERENCE)['verdict'] == 'too few'
    alike = drift(REFERENCE*4, REFERENCE)  # the same distribution: no gap at all
    assert (alike['statistic'], alike['p_value'], alike['verdict']) == (0, 1, 'no drift')

def test_drift_through_the_report(tmp_path):
    "A log of 30 predictions far less sure than the validation photos drifts; the same 30 as confident as them don't"
    unsure = [(i, A, 'teddy', 'teddy', 0.5, []) for i in range(1, 31)]
    sure = [(i, A, 'teddy', 'teddy', REFERENCE[i % 8], []) for i in range(31, 63)]
    log = build_log(tmp_path/'log.sqlite', unsure + sure)
    assert rollout_report(log.frame().iloc[:30], CARD)['drift']['verdict'] == 'drift'
    assert rollout_report(log.frame(), CARD, recent=32)['drift']['verdict'] == 'no drift'
    log.close()

SIGNS = ['eight', 'five', 'nine', 'seven', 'six']
SIGN_CARD = dict(weights_sha256=A, classes=SIGNS, name='Sign digits', description='Eight, five, nine, seven or six.',
                 domain=dict(outside_label=NONE_OF_THESE), validation=dict(accuracy=0.9, photos=8, confidences=REFERENCE))
SIGN_LOG = [(1, A, 'five',        'five', 0.90, ['right']),
            (2, A, 'six',         'six',  0.70, ['seven']),          # a seven taken for a six
            (3, A, NONE_OF_THESE, 'nine', 0.40, ['right']),          # a bear turned away: right
            (4, A, 'nine',        'nine', 0.60, [NONE_OF_THESE]),    # a cat called a nine: wrong
            (5, A, NONE_OF_THESE, 'six',  0.50, ['six']),            # a six turned away: wrong
            (6, A, 'eight',       'eight', 0.95, [])]

def test_a_model_not_about_bears_in_its_own_words(tmp_path):
    "A sign-digit model's report: its label for none of its signs in the confusion table and the rate, no bear anywhere"
    log = build_log(tmp_path/'log.sqlite', SIGN_LOG, SIGNS, NONE_OF_THESE)
    report = rollout_report(log.frame(), SIGN_CARD, recent=2)
    log.close()
    assert (report['classes'], report['outside_label']) == (SIGNS, NONE_OF_THESE)
    assert report['outside_rate'] == dict(all=pytest.approx(2/6), recent=pytest.approx(1/2))  # 3, 5; of the last two, 5
    assert report['reviews'] == dict(reviewed=5, right=2, accuracy=pytest.approx(2/5), validation_accuracy=0.9)
    zero = dict.fromkeys([*SIGNS, NONE_OF_THESE], 0)
    assert report['confusion'] == {'eight': zero, 'five': zero | dict(five=1), 'nine': zero, 'seven': zero | dict(six=1),
                                   'six': zero | {NONE_OF_THESE: 1}, NONE_OF_THESE: zero | {'nine': 1, NONE_OF_THESE: 1}}
    lines = report_lines(report)
    assert lines[3] == 'none of these    33.3% of all, 50.0% of the last 2'
    assert lines[-1].split() == [NONE_OF_THESE, '0', '0', '1', '0', '0', '1']
    assert 'bear' not in json.dumps(report).lower() + '\n'.join(lines).lower()

def test_the_report_loads_no_pytorch():
    "`bearclf report` should start in a moment: `bearclf.report` imports none of fastai, timm, torch"
    code = "import sys, bearclf.report; print(*sorted(m for m in ('fastai', 'timm', 'torch') if m in sys.modules))"
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, '\n'), done.stdout + done.stderr
