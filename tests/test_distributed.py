"""`bearclf train` under `accelerate launch`: two processes train one model (fastai's distributed data parallel,
through gloo on CPUs) and write the same model folder one process does."""
import json, os, shutil, subprocess
from pathlib import Path
import pytest
from bearclf.data import bears_datablock
from bearclf.inference import Predictor
TRAIN = ['train', '--size', '64', '--bs', '8', '--epochs', '1', '--freeze-epochs', '1']
# `--cpu` starts one process unless MPI is installed: `--multi_gpu` starts two with torchrun, and
# ACCELERATE_USE_CPU (what `--cpu` sets) makes them CPU processes. All flags given: no config file, no questions
LAUNCH = ['launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1', '--mixed_precision', 'no',
          '--dynamo_backend', 'no', '--main_process_port', '0', '--no_python']

@pytest.fixture
def photos(tmp_path, shared_data):
    "12 photos of each bear: 36, of which 7 are validation photos, an odd number for two processes to share"
    for label in ('black', 'grizzly', 'teddy'):
        (tmp_path/'bears'/label).mkdir(parents=True)
        for fn in sorted((shared_data/'bears'/label).glob('*.jpg'))[:12]: shutil.copy(fn, tmp_path/'bears'/label)
    return tmp_path/'bears'

def run(cmd:list, home:Path, timeout=120)->subprocess.CompletedProcess:
    "Run `cmd` offline with its own bearclf home; if it hangs, SIGTERM, which the launcher passes on to its processes"
    env = os.environ | dict(BEARCLF_HOME=str(home), HF_HOME=str(home/'hf'), HF_HUB_OFFLINE='1', ACCELERATE_USE_CPU='1')
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding='utf-8')
    try: out, err = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None: p.terminate(); p.wait(30)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)

@pytest.mark.time_limit(300)  # two trainings of a few seconds and four PyTorch start-ups: 20-55s on 2 shared cores
def test_two_processes_train_the_model_one_process_does(photos, tmp_path):
    bearclf = shutil.which('bearclf')
    one = run([bearclf, *TRAIN, '--data', photos, '--out', tmp_path/'one'], tmp_path/'home1')
    # a fresh home: both processes convert the offline weights at once
    two = run([shutil.which('accelerate'), *LAUNCH, bearclf, *TRAIN, '--data', photos, '--out', tmp_path/'two'], tmp_path/'home2')
    assert one.returncode == 0, one.stderr[-3000:]
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count('validation photos') == 1  # the summary, from the first process only
    card1, card2 = [json.loads((tmp_path/d/'model_card.json').read_text(encoding='utf-8')) for d in ('one', 'two')]
    assert card1.keys() == card2.keys()
    for key in ('classes', 'architecture', 'input_size', 'recipe', 'training_photos'): assert card1[key] == card2[key], key
    assert card1['validation'].keys() == card2['validation'].keys()
    assert card1['validation']['photos'] == card2['validation']['photos'] == 7  # each photo once, none padded in
    assert len(card2['validation']['confidences']) == 7
    assert (card1['train_processes'], card2['train_processes']) == (1, 2)  # the size of the process group that trained
    assert sorted(p.name for p in (tmp_path/'two').iterdir()) == ['model.onnx', 'model.pkl', 'model.safetensors', 'model_card.json']
    # Each saved model, loaded in this process, says of every validation photo what the processes that trained it
    # said (the card keeps their top probabilities, and their accuracy): the folder holds the model they trained
    valid = bears_datablock().datasets(photos).valid.items  # the card's split: the same seed, the same photos
    for d, card in (('one', card1), ('two', card2)):
        preds = Predictor.load(tmp_path/d, check_domain=False).predict_many(valid)
        said = [round(p.probability, 4) for p in preds]
        assert max(abs(a - b) for a, b in zip(said, card['validation']['confidences'])) <= 2e-4, (d, said, card['validation'])
        right = sum(p.label == fn.parent.name for p, fn in zip(preds, valid))
        assert round(right / len(valid), 4) == card['validation']['accuracy'], (d, right, card['validation'])
