"""Your own classifier: `bearclf train` on labels that are not bears (a few of the hand signs), and what the model then
says through `bearclf predict --json` and the app: its own labels, no bear words, and bears turned away."""
import json, re, shutil, subprocess
from pathlib import Path
import pytest

SIGNS = ('five', 'six', 'nine')
PER_LABEL = 24  # photos per label: enough for a split, few enough to train in seconds

def bearclf(*args, timeout=300, **kwargs):
    "Run the installed `bearclf` command"
    return subprocess.run([shutil.which('bearclf'), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          **kwargs)

def some_signs(shared_data:Path, dest:Path)->Path:
    "A small dataset of hand signs: links to the first `PER_LABEL` photos of each of `SIGNS`"
    for label in SIGNS:
        (dest/label).mkdir(parents=True)
        for fn in sorted((shared_data/'sign_digits'/label).glob('*.jpg'))[:PER_LABEL]: (dest/label/fn.name).symlink_to(fn)
    return dest

@pytest.fixture(scope='module')
def signs_model(shared_data, tmp_path_factory):
    "A model of three hand signs, trained by `bearclf train` with the recipe it chooses, made shorter"
    d = tmp_path_factory.mktemp('signs')
    done = bearclf('train', '--data', some_signs(shared_data, d/'hand_signs'), '--out', d/'model', '--epochs', '2',
                   '--description', 'American Sign Language: five, six or nine.')
    assert done.returncode == 0, done.stderr
    return d/'model', done.stdout

@pytest.mark.time_limit(300)
def test_train_chooses_a_recipe_and_a_check_for_the_labels(signs_model):
    model, said = signs_model
    card = json.loads((model/'model_card.json').read_text(encoding='utf-8'))
    assert (card['classes'], card['name']) == (sorted(SIGNS), 'Hand signs')
    assert card['description'] == 'American Sign Language: five, six or nine.'
    assert card['domain']['outside_label'] == 'none_of_these'
    assert card['recipe']['epochs'] == 2 and not card['recipe_choice']['suggested']  # ours, shortened
    familiar = card['recipe_choice']['linear_probe'] >= card['recipe_choice']['familiar_above']  # these three are easy
    assert card['architecture'] == ('tf_efficientnet_lite2' if familiar else 'tf_efficientnet_lite0'), card
    assert card['recipe']['size'] == 128  # the photos are 100 px
    assert 'bear' not in said.lower(), said
    assert 'get none_of_these' in said, said

@pytest.mark.time_limit(300)
def test_predict_json_speaks_the_models_labels_and_turns_bears_away(signs_model, shared_data):
    model, _ = signs_model
    signs = [sorted((shared_data/'sign_digits'/label).glob('*.jpg'))[-1] for label in SIGNS]  # not trained on
    bears = [sorted((shared_data/'bears'/label).glob('*.jpg'))[0] for label in ('grizzly', 'black', 'teddy')]
    cats = sorted((shared_data/'not_bears'/'cats').glob('*.jpg'))[:2]
    done = bearclf('predict', '--no-log', '--json', '--model', model, *signs, *bears, *cats)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [set(r['probs']) for r in rows] == [set(SIGNS)] * len(rows)
    assert [r['in_domain'] for r in rows] == [True] * len(signs) + [False] * (len(bears) + len(cats)), rows
    assert [r['label'] for r in rows[len(signs):]] == ['none_of_these'] * (len(bears) + len(cats))
    assert all(r['label'] in SIGNS for r in rows[:len(signs)]), rows
    done = bearclf('predict', '--no-log', '--model', model, bears[0])  # for people: the label, and how sure
    assert done.stdout.split('\t')[1] == 'none_of_these', done.stdout

@pytest.mark.time_limit(300)
def test_the_app_speaks_of_the_models_labels(signs_model, shared_data):
    from bearclf.app import BearApp, as_uploaded, result_view
    from bearclf.inference import Predictor
    model, _ = signs_model
    predictor = Predictor.load(model)
    app = BearApp(predictor)
    sign = sorted((shared_data/'sign_digits'/'five').glob('*.jpg'))[-1]
    bear = sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[0]
    app.upload.value = (as_uploaded(sign), as_uploaded(bear))
    preds = app.run()
    assert preds[0].label in SIGNS and preds[1].label == 'none_of_these', preds
    # what the page shows: the app's own widgets, and each photo's row as `run` displays it
    texts = ' '.join(widget_texts(app) + [t for p in preds for t in widget_texts(result_view(p, predictor.classes))])
    assert 'Hand signs' in texts and 'American Sign Language: five, six or nine.' in texts, texts
    assert 'None of these, as far as the model can tell' in texts, texts
    assert not re.search('bear', texts, re.I), texts

def widget_texts(widget)->list:
    "Every text a widget and those inside it show: values of labels and HTML, descriptions of buttons"
    texts = [getattr(widget, a) for a in ('value', 'description') if isinstance(getattr(widget, a, None), str)]
    for child in getattr(widget, 'children', ()): texts += widget_texts(child)
    return texts

@pytest.mark.time_limit(120)
@pytest.mark.parametrize('layout, message', [
    ({}, 'no photos in'),
    ({'five': 3}, r'only one label \(five\)'),
    ({'five': 3, 'six': 2, 'broken': -1}, r"can't be read"),
    ({'five': 3, 'none_of_these': 3}, "'none_of_these' can't be a label"),
])
def test_bad_data_for_any_labels_is_one_clear_line(shared_data, tmp_path, layout, message):
    data = tmp_path/'data'; data.mkdir()
    for label, n in layout.items():
        (data/('six' if n < 0 else label)).mkdir(exist_ok=True)
        if n < 0: (data/'six'/'cut.jpg').write_bytes(b'\xff\xd8\xff\xe0 not really a photo'); continue
        for fn in sorted((shared_data/'sign_digits'/'five').glob('*.jpg'))[:n]: (data/label/fn.name).symlink_to(fn)
    done = bearclf('train', '--data', data, '--out', tmp_path/'model', timeout=120)
    assert (done.returncode, done.stderr.count('\n')) == (1, 1), done.stderr
    assert re.search(message, done.stderr), done.stderr
    assert not (tmp_path/'model').exists()

@pytest.mark.time_limit(60)
@pytest.mark.parametrize('labels, message', [(['five', 'six/seven'], "'six/seven' can't be a label: it holds '/'"),
                                            (['five', 'what?'], "'what?' can't be a label: it holds '?'")])
def test_gather_refuses_a_label_that_cant_be_a_folder(tmp_path, labels, message):
    done = bearclf('gather', '--labels', *labels, '--out', tmp_path/'photos', timeout=60)
    assert (done.returncode, done.stderr.count('\n')) == (1, 1), done.stderr
    assert message in done.stderr, done.stderr
    assert not (tmp_path/'photos').exists()

def test_gather_with_labels_needs_a_folder():
    done = bearclf('gather', '--labels', 'five', 'six', timeout=60)
    assert (done.returncode, done.stderr) == (1, 'bearclf gather: error: say which folder the photos of your labels go in: --out DIR\n')
