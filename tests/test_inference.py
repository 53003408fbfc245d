"""`bearclf.inference`: the safe model format, refusing changed or mismatched models, and every kind of bad photo.

The model is a tiny one (32 px, trained for one epoch on random pictures): these tests are about loading and
preprocessing, not accuracy. Real photos come from `../shared/data` where a test needs them.
"""
import hashlib, io, json, pickle, shutil, struct, warnings, zlib
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image
from bearclf.data import fake_bears
from bearclf.core import MODEL_FORMAT, ModelError, read_card
from bearclf.inference import MAX_PHOTO_BYTES, NOT_A_BEAR, NOT_A_BEAR_BELOW, BadPhoto, Predictor, build_model, open_photo
from bearclf.train import Recipe, save_model, train_bears

SHARED = Path(__file__).parents[2]/'shared'/'data'

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A tiny trained `Learner` and the model folder it was saved to"
    d = tmp_path_factory.mktemp('model')
    learn = train_bears(fake_bears(d/'bears', n=8), Recipe(size=32, bs=8, freeze_epochs=1, epochs=0))
    save_model(learn, d/'model')
    return learn, d/'model'

@pytest.fixture(scope='module')
def predictor(trained): return Predictor.load(trained[1])

@pytest.fixture
def model_copy(trained, tmp_path):
    "A copy of the model folder that a test may damage"
    return Path(shutil.copytree(trained[1], tmp_path/'model'))

def encode(im:Image.Image, fmt:str, **kwargs)->bytes:
    buf = io.BytesIO(); im.save(buf, fmt, **kwargs); return buf.getvalue()

def rewrite_card(model_dir:Path, **changes):
    card = json.loads((model_dir/'model_card.json').read_text())
    (model_dir/'model_card.json').write_text(json.dumps(card | changes))

def rehash(model_dir:Path):
    "Make the card describe the weights file as it now is (as a careless or malicious editor would)"
    rewrite_card(model_dir, weights_sha256=hashlib.sha256((model_dir/'model.safetensors').read_bytes()).hexdigest())

# --- The safe format ---------------------------------------------------------------------------------------

def test_round_trip_gives_the_trained_networks_outputs(trained):
    learn, model_dir = trained
    model, card = build_model(model_dir)
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad(): torch.testing.assert_close(model(x), learn.model.eval()(x), atol=1e-5, rtol=0)
    assert card['classes'] == list(learn.dls.vocab) and card['format'] == MODEL_FORMAT

def test_predictor_matches_learn_predict_on_real_photos(trained, predictor):
    if not SHARED.exists(): pytest.skip(f'{SHARED} is not here')
    learn = trained[0]
    for fn in sorted((SHARED/'bears').rglob('*.jpg'))[::60]:
        with learn.no_bar(): _, _, expected = learn.predict(fn)
        got = predictor.predict(fn).probs
        np.testing.assert_allclose([got[c] for c in learn.dls.vocab], expected.numpy(), atol=1e-4)

def test_loading_never_unpickles(model_copy, monkeypatch):
    (model_copy/'model.pkl').unlink()
    def refuse(*args, **kwargs): raise AssertionError('the safe format must not unpickle anything')
    monkeypatch.setattr(pickle, 'load', refuse); monkeypatch.setattr(pickle, 'loads', refuse)
    monkeypatch.setattr(torch, 'load', refuse)
    assert Predictor.load(model_copy, check_bear=False).predict(encode(Image.new('RGB', (50, 40), 'brown'), 'PNG')).label

def test_changed_weights_are_refused(model_copy):
    with open(model_copy/'model.safetensors', 'r+b') as f:
        f.seek(-100, 2); f.write(b'\x7f' * 8)
    with pytest.raises(ModelError, match='is not the file its model card describes'): Predictor.load(model_copy)

def test_damaged_weights_are_refused_even_with_a_matching_hash(model_copy):
    data = (model_copy/'model.safetensors').read_bytes()
    (model_copy/'model.safetensors').write_bytes(data[:len(data)//2])
    rehash(model_copy)
    with pytest.raises(ModelError, match="can't read"): Predictor.load(model_copy)

def test_weights_for_another_architecture_are_refused(model_copy):
    rewrite_card(model_copy, architecture='mobilenetv3_small_050')
    with pytest.raises(ModelError, match="don't fit mobilenetv3_small_050 .*made with timm"): Predictor.load(model_copy)

def test_weights_for_other_classes_are_refused(model_copy):
    rewrite_card(model_copy, classes=['black', 'grizzly', 'panda', 'teddy'])
    with pytest.raises(ModelError, match="don't fit"): Predictor.load(model_copy)

def test_another_format_version_is_refused(model_copy):
    rewrite_card(model_copy, format=MODEL_FORMAT + 1)
    with pytest.raises(ModelError, match=f'model format {MODEL_FORMAT + 1}; this bearclf .* reads format {MODEL_FORMAT}'):
        Predictor.load(model_copy)

@pytest.mark.parametrize('damage, message', [
    (lambda d: (d/'model_card.json').unlink(), 'no model in'),
    (lambda d: (d/'model_card.json').write_text('{"classes": ['), 'is not valid JSON'),
    (lambda d: (d/'model.safetensors').unlink(), 'model.safetensors is missing'),
])
def test_incomplete_model_folders_are_refused(model_copy, damage, message):
    damage(model_copy)
    with pytest.raises(ModelError, match=message): read_card(model_copy)

# --- Photos: accepted ------------------------------------------------------------------------------------

def test_exif_orientation_is_honoured():
    upright = Image.new('RGB', (60, 30), 'white')
    upright.paste(Image.new('RGB', (20, 30), 'red'), (0, 0))  # red on the left as taken
    for orientation, stored in [(3, upright.rotate(180)), (6, upright.rotate(90, expand=True)), (8, upright.rotate(-90, expand=True))]:
        exif = Image.Exif(); exif[0x0112] = orientation
        shown = open_photo(encode(stored, 'JPEG', exif=exif, quality=95))
        assert shown.size == (60, 30), orientation
        assert shown.getpixel((5, 15))[1] < 60 and shown.getpixel((55, 15))[1] > 200, orientation  # red left, white right

@pytest.mark.parametrize('make, expected', [
    (lambda: encode(Image.new('RGBA', (8, 8), (255, 0, 0, 0)), 'PNG'), (255, 255, 255)),   # transparent: on white
    (lambda: encode(Image.new('RGBA', (8, 8), (255, 0, 0, 255)), 'PNG'), (255, 0, 0)),     # opaque: as it is
    (lambda: encode(Image.new('LA', (8, 8), (0, 0)), 'PNG'), (255, 255, 255)),
    (lambda: encode(Image.new('L', (8, 8), 77), 'PNG'), (77, 77, 77)),
    (lambda: encode(Image.new('CMYK', (8, 8), (0, 255, 255, 0)), 'JPEG', quality=100), (255, 0, 0)),
    (lambda: encode(Image.fromarray(np.full((8, 8), 51400, np.uint16)), 'PNG'), (200, 200, 200)),  # 16-bit: 51400/257 = 200
])
def test_modes_become_rgb(make, expected):
    im = open_photo(make())
    assert im.mode == 'RGB'
    assert all(abs(a - b) <= 3 for a, b in zip(im.getpixel((4, 4)), expected)), im.getpixel((4, 4))

def test_palette_with_transparency_goes_on_white():
    im = Image.new('P', (8, 8), 1); im.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    assert open_photo(encode(im, 'PNG', transparency=1)).getpixel((0, 0)) == (255, 255, 255)
    assert open_photo(encode(im, 'PNG')).getpixel((0, 0)) == (0, 0, 255)

def test_animated_gif_gives_its_first_frame():
    frames = [Image.new('RGB', (10, 10), c) for c in ('red', 'blue', 'green')]
    gif = encode(frames[0], 'GIF', save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(gif)).n_frames == 3
    assert open_photo(gif).getpixel((5, 5)) == (255, 0, 0)

def test_sources_path_bytes_memoryview_file(tmp_path):
    data = encode(Image.new('RGB', (9, 7), 'green'), 'PNG')
    (tmp_path/'p.png').write_bytes(data)
    for source in (tmp_path/'p.png', str(tmp_path/'p.png'), data, memoryview(data), io.BytesIO(data)):
        assert open_photo(source).size == (9, 7)

def test_every_accepted_kind_gets_a_prediction(predictor):
    sources = [encode(Image.new('RGBA', (40, 30), (9, 9, 9, 128)), 'PNG'), encode(Image.new('L', (5, 300)), 'PNG'),
               encode(Image.fromarray(np.zeros((64, 64), np.uint16)), 'PNG'), encode(Image.new('CMYK', (30, 30)), 'JPEG')]
    for source in sources:
        pred = predictor.predict(source, 'x')
        assert pred.error is None and pred.label in predictor.classes + [NOT_A_BEAR]
        assert set(pred.probs) == set(predictor.classes) and abs(sum(pred.probs.values()) - 1) < 1e-5

# --- Photos: refused -------------------------------------------------------------------------------------

def huge_png(width:int, height:int)->bytes:
    "A few hundred bytes that claim `width` x `height` pixels: a decompression bomb"
    def chunk(kind, data): return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\0' * 1000)) + chunk(b'IEND', b'')

def truncated_jpeg()->bytes:
    rng = np.random.default_rng(0)
    data = encode(Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)), 'JPEG')
    return data[:len(data)//2]

@pytest.mark.parametrize('source, message', [
    (b'', 'the file is empty'),
    (b'%PDF-1.4 not a photo at all', 'not an image'),
    (b'<html><body>404</body></html>', 'not an image'),
    (truncated_jpeg(), 'the image is damaged'),
    (huge_png(10_000, 10_000), 'too many pixels'),        # over PIL's limit: a warning we treat as an error
    (huge_png(100_000, 100_000), 'too many pixels'),      # over twice the limit: PIL's own error
])
def test_bad_photos_are_refused_with_a_clear_message(source, message, predictor):
    with pytest.raises(BadPhoto, match=message): open_photo(source)
    pred = predictor.predict(source, 'upload')
    assert pred.error.startswith(message) and pred.label is None and pred.to_dict() == {'file': 'upload', 'error': pred.error}

def test_a_bomb_is_refused_before_it_is_decoded():
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(BadPhoto): open_photo(huge_png(30_000, 30_000))  # 900 MB if decoded
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB

def test_files_that_are_too_big_or_not_files(tmp_path):
    big = tmp_path/'big.jpg'
    with open(big, 'wb') as f: f.truncate(MAX_PHOTO_BYTES + 1)  # sparse: no disk used
    with pytest.raises(BadPhoto, match='larger than'): open_photo(big)
    with pytest.raises(BadPhoto, match='larger than'): open_photo(b'x' * 101, max_bytes=100)
    with pytest.raises(BadPhoto, match='not a file'): open_photo(tmp_path/'missing.jpg')
    with pytest.raises(BadPhoto, match='not a file'): open_photo(tmp_path)

def test_predict_many_keeps_order_and_reports_bad_files(predictor, tmp_path):
    good = tmp_path/'good.png'; good.write_bytes(encode(Image.new('RGB', (20, 20), 'grey'), 'PNG'))
    bad = tmp_path/'bad.jpg'; bad.write_bytes(b'nope')
    preds = predictor.predict_many([bad, good, good, bad, good], bs=2)
    assert [p.file for p in preds] == [str(f) for f in (bad, good, good, bad, good)]
    assert [p.error is None for p in preds] == [False, True, True, False, True]

# --- Not a bear ------------------------------------------------------------------------------------------

def test_the_gate_tells_cats_from_bears(predictor):
    if not SHARED.exists(): pytest.skip(f'{SHARED} is not here')
    cats = sorted((SHARED/'not_bears').rglob('*.jpg'))[:4]
    bears = [sorted((SHARED/'bears'/label).glob('*.jpg'))[3] for label in ('grizzly', 'black', 'teddy')]
    for pred in predictor.predict_many(cats):
        assert pred.label == NOT_A_BEAR and pred.bear < NOT_A_BEAR_BELOW and pred.probability == pytest.approx(1 - pred.bear)
    for pred in predictor.predict_many(bears):
        assert pred.label != NOT_A_BEAR and pred.bear >= NOT_A_BEAR_BELOW

def test_without_the_gate_everything_gets_a_class(trained):
    if not SHARED.exists(): pytest.skip(f'{SHARED} is not here')
    cat = sorted((SHARED/'not_bears').rglob('*.jpg'))[0]
    pred = Predictor.load(trained[1], check_bear=False).predict(cat)
    assert pred.label in pred.probs and pred.bear is None
