"""`bearclf.runtime` and `bearclf.export`: `model.onnx` answers as PyTorch does, and predicting needs neither torch nor fastai.

The models are tiny (32 px, one epoch on random pictures): one whose body stayed ImageNet's (its check shares it: one
input) and one whose body learned (its check has its own network: two inputs). `tests/test_inference.py` runs every
predictor test through both runtimes; the course's model is compared in `nbs/api/07e_export.ipynb`.
"""
import json, os
from pathlib import Path
import numpy as np, pytest
from bearclf.core import ModelError
from bearclf.data import fake_bears
from bearclf.export import export_onnx
from bearclf.inference import Predictor
from bearclf.runtime import OnnxPredictor, load_predictor, model_inputs
from bearclf.train import Recipe, save_model, train_bears

RECIPES = {'one body': Recipe(size=32, bs=8, freeze_epochs=1, epochs=0),   # the head alone: the body stays ImageNet's
           'two bodies': Recipe(size=32, bs=8, freeze_epochs=0, epochs=1)}  # the body learns: the check needs its own

@pytest.fixture(scope='module', params=list(RECIPES))
def tiny_model(tmp_path_factory, request)->Path:
    d = tmp_path_factory.mktemp('model')
    save_model(train_bears(fake_bears(d/'bears', n=8), RECIPES[request.param]), d/'model')  # writes model.onnx too
    return d/'model'

def test_each_model_has_the_inputs_its_check_needs(tiny_model):
    card = json.loads((tiny_model/'model_card.json').read_text(encoding='utf-8'))
    runtime = OnnxPredictor.load(tiny_model)
    names = [i.name for i in runtime.session.get_inputs()]
    assert names == list(model_inputs(card)) == (['photo'] if card['domain']['shares_body'] else ['photo', 'check_photo'])
    assert runtime.card == card

def test_onnx_answers_as_pytorch_does_on_real_photos(tiny_model, shared_data):
    photos = sorted((shared_data/'bears').rglob('*.jpg'))[::40] + sorted((shared_data/'not_bears').rglob('*.jpg'))[::10]
    ours, theirs = OnnxPredictor.load(tiny_model).predict_many(photos), Predictor.load(tiny_model).predict_many(photos)
    assert [p.label for p in ours] == [p.label for p in theirs] and [p.in_domain for p in ours] == [p.in_domain for p in theirs]
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(list(o.probs.values()), list(t.probs.values()), atol=1e-4)
        assert abs(o.domain - t.domain) < 1e-4, (o, t)

def test_without_an_up_to_date_model_onnx_pytorch_answers(tiny_model, tmp_path):
    for name in ('model.safetensors', 'model_card.json'): os.link(tiny_model/name, tmp_path/name)
    assert type(load_predictor(tmp_path)) is Predictor  # no model.onnx
    card = json.loads((tiny_model/'model_card.json').read_text(encoding='utf-8'))
    (tmp_path/'model_card.json').unlink()
    (tmp_path/'model_card.json').write_text(json.dumps(card | dict(name='Renamed')), encoding='utf-8')
    os.link(tiny_model/'model.onnx', tmp_path/'model.onnx')  # exported with another card
    assert type(load_predictor(tmp_path)) is Predictor
    (tmp_path/'model.onnx').unlink()
    assert type(load_predictor(export_onnx(tmp_path).parent)) is OnnxPredictor
    assert OnnxPredictor.load(tmp_path).card['name'] == 'Renamed'

def test_a_model_that_is_not_onnx_is_refused_clearly(tmp_path):
    (tmp_path/'model.onnx').write_bytes(b'\x08\x07not a graph')
    with pytest.raises(ModelError, match=r'is not a model bearclf export wrote .*export it again'): OnnxPredictor.load(tmp_path)
    with pytest.raises(ModelError, match=r'no .*model\.onnx: bearclf export'): OnnxPredictor.load(tmp_path/'elsewhere')
