"""The review round trip from a terminal, as the README's commands run it: photos predicted and logged by
`bearclf predict`, reviewed with `bearclf review list` / `mark`, exported with `bearclf review export`,
and the exported folder trained on with `bearclf train`."""
import json, os, shutil, subprocess
from pathlib import Path
import pytest
from bearclf.log import PredictionLog

def bearclf(*args, env=None)->subprocess.CompletedProcess:
    done = subprocess.run([shutil.which('bearclf'), *map(str, args)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done

@pytest.mark.time_limit(300)
def test_log_review_export_retrain(shared_data, tmp_path):
    from bearclf.core import data_home
    from bearclf.train import check_photos, trained_bears
    trained_bears()
    photos = [fn for label in ('black', 'grizzly', 'teddy') for fn in sorted((shared_data/'bears'/label).glob('*.jpg'))[:6]]
    cats = sorted((shared_data/'not_bears').rglob('*.jpg'))[:2]
    truth = {str(fn): fn.parent.name for fn in photos} | {str(fn): 'not_a_bear' for fn in cats}
    log = tmp_path/'predictions.sqlite'
    bearclf('predict', '--model', data_home()/'models'/'default', '--log', log, '--keep-photos', *photos, *cats, photos[0])  # the first photo twice

    listed = [line.split('\t') for line in bearclf('review', 'list', '--log', log, '--photos', tmp_path/'to-check').stdout.splitlines()]
    assert len(listed) == len(photos) + len(cats) + 1
    assert sorted(p.name for p in (tmp_path/'to-check').iterdir()) == sorted(f'{id}.jpg' for id, *_ in listed)
    # the reviewer says right when the model was, else what the photo shows; the repeated photo is left for later
    verdicts = [(id, 'right' if label == truth[file] else truth[file]) for id, _, file, label, _ in listed[:-1]]
    assert bearclf('review', 'mark', '--log', log, *[x for pair in verdicts for x in pair]).stdout == f'{len(verdicts)} verdict(s) kept\n'
    assert [line.split('\t')[0] for line in bearclf('review', 'list', '--log', log).stdout.splitlines()] == [listed[-1][0]]

    out = tmp_path/'reviewed'
    said = bearclf('review', 'export', '--log', log, '--out', out).stdout
    assert said == f'{len(photos)} photo(s) exported to {out}; {len(cats)} not a bear\n'
    logged = PredictionLog(log).frame()
    for row in logged[:-1].itertuples():  # each bear photo is in the folder of what it really shows
        kept = out/truth[row.file]/f'{row.image_sha256[:16]}.jpg'
        assert kept.exists() == (truth[row.file] != 'not_a_bear'), row
    assert len(check_photos(out)) == len(photos)
    bearclf('review', 'mark', '--log', log, listed[-1][0], 'grizzly')  # the repeated black bear, said to be a grizzly this time
    assert bearclf('review', 'export', '--log', log, '--out', out).stdout == \
        f'0 photo(s) exported to {out}; 2 reviewers disagree; {len(photos) - 1} already exported; {len(cats)} not a bear\n'
    assert len(check_photos(out)) == len(photos)  # the disputed photo was exported before the dispute: it stays, a person settles it

    bearclf('train', '--data', out, '--out', tmp_path/'model', '--size', '64', '--bs', '4', '--epochs', '1', '--freeze-epochs', '1')
    card = json.loads((tmp_path/'model'/'model_card.json').read_text(encoding='utf-8'))
    assert card['classes'] == ['black', 'grizzly', 'teddy']
    assert card['training_photos'] + card['validation']['photos'] == len(photos)
