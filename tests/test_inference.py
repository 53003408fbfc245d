"""`bearclf.inference`: the safe model format, refusing changed or mismatched models, and every kind of bad photo.

The model is a tiny one (32 px, trained for one epoch on random pictures): these tests are about loading and
preprocessing, not accuracy. Real photos come from `../shared/data` (the `shared_data` fixture) where a test needs them.
"""
import hashlib, io, json, pickle, shutil, struct, subprocess, sys, warnings, zlib
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image, ImageFile
from bearclf.data import fake_bears
from bearclf.core import MODEL_FORMAT, ModelError, UserError, read_card
from bearclf.core import NOT_A_BEAR
from bearclf.data import MAX_PHOTO_BYTES, BadPhoto, open_photo
from bearclf.export import export_onnx
from bearclf.inference import Predictor, build_model
from bearclf.runtime import OnnxPredictor
from bearclf.train import Recipe, save_model, train_bears

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A tiny trained `Learner` and the model folder it was saved to"
    d = tmp_path_factory.mktemp('model')
    learn = train_bears(fake_bears(d/'bears', n=8), Recipe(size=32, bs=8, freeze_epochs=1, epochs=0))
    save_model(learn, d/'model')
    return learn, d/'model'

def load_onnx(model_dir:Path, **kwargs)->OnnxPredictor:
    "Export the model in `model_dir` to `model.onnx` again (its card may have been changed), and load that"
    export_onnx(model_dir)
    return OnnxPredictor.load(model_dir, **kwargs)

PREDICTORS = dict(pytorch=Predictor.load, onnx=load_onnx)

@pytest.fixture(scope='module', params=list(PREDICTORS))
def predictor(trained, request):
    "Each test of a predictor runs through both: PyTorch's, and ONNX Runtime's on the exported `model.onnx`"
    return PREDICTORS[request.param](trained[1])

@pytest.fixture
def model_copy(trained, tmp_path):
    "A copy of the model folder that a test may damage"
    return Path(shutil.copytree(trained[1], tmp_path/'model'))

def encode(im:Image.Image, fmt:str, **kwargs)->bytes:
    buf = io.BytesIO(); im.save(buf, fmt, **kwargs); return buf.getvalue()

def rewrite_card(model_dir:Path, **changes):
    card = json.loads((model_dir/'model_card.json').read_text(encoding='utf-8'))
    (model_dir/'model_card.json').write_text(json.dumps(card | changes), encoding='utf-8')

def rehash(model_dir:Path):
    "Make the card describe the weights file as it now is (as a careless or malicious editor would)"
    rewrite_card(model_dir, weights_sha256=hashlib.sha256((model_dir/'model.safetensors').read_bytes()).hexdigest())

# --- The safe format ---------------------------------------------------------------------------------------

def test_round_trip_gives_the_trained_networks_outputs(trained):
    learn, model_dir = trained
    model, card = build_model(model_dir)
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad(): torch.testing.assert_close(model(x), learn.model.eval().cpu()(x), atol=1e-5, rtol=0)
    assert card['classes'] == list(learn.dls.vocab) and card['format'] == MODEL_FORMAT

def test_predictor_matches_learn_predict_on_real_photos(trained, predictor, shared_data):
    learn = trained[0]
    for fn in sorted((shared_data/'bears').rglob('*.jpg'))[::60]:
        with learn.no_bar(): _, _, expected = learn.predict(fn)
        got = predictor.predict(fn).probs
        np.testing.assert_allclose([got[c] for c in learn.dls.vocab], expected.numpy(), atol=1e-4)

def test_loading_never_unpickles(model_copy, monkeypatch):
    (model_copy/'model.pkl').unlink()
    def refuse(*args, **kwargs): raise AssertionError('the safe format must not unpickle anything')
    monkeypatch.setattr(pickle, 'load', refuse); monkeypatch.setattr(pickle, 'loads', refuse)
    monkeypatch.setattr(torch, 'load', refuse)
    assert Predictor.load(model_copy, check_domain=False).predict(encode(Image.new('RGB', (50, 40), 'brown'), 'PNG')).label

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
    (lambda d: (d/'model_card.json').write_text('{"classes": [', encoding='utf-8'), 'is not valid JSON'),
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

# --- One loader for training and serving -------------------------------------------------------------

def exif_orientation(orientation:int)->Image.Exif:
    exif = Image.Exif(); exif[0x0112] = orientation; return exif

def variants(photo:Image.Image)->dict:
    "`photo` (RGB) as the files phones, editors and scanners make of it: file name -> bytes"
    w, h = photo.size
    alpha = Image.new('L', photo.size, 255); alpha.paste(0, (0, 0, w//2, h))  # the left half transparent
    rgba = photo.copy(); rgba.putalpha(alpha)
    palette = photo.quantize(64)  # 64 colours; colour 0 transparent
    grey16 = Image.fromarray(np.asarray(photo.convert('L')).astype(np.uint16) * 257)  # 0..65535
    frames = [photo, Image.eval(photo, lambda v: 255 - v)]
    return {'plain.jpg': encode(photo, 'JPEG', quality=95),
            # stored turned, with the EXIF tag that says how to show it upright
            'exif3.jpg': encode(photo.transpose(Image.Transpose.ROTATE_180), 'JPEG', quality=95, exif=exif_orientation(3)),
            'exif6.jpg': encode(photo.transpose(Image.Transpose.ROTATE_90), 'JPEG', quality=95, exif=exif_orientation(6)),
            'exif8.jpg': encode(photo.transpose(Image.Transpose.ROTATE_270), 'JPEG', quality=95, exif=exif_orientation(8)),
            'rgba.png': encode(rgba, 'PNG'), 'la.png': encode(rgba.convert('LA'), 'PNG'),
            'palette.png': encode(palette, 'PNG', transparency=0), 'palette.gif': encode(palette, 'GIF', transparency=0),
            'cmyk.jpg': encode(photo.convert('CMYK'), 'JPEG', quality=95),
            'grey16.png': encode(grey16, 'PNG'),
            'animated.gif': encode(frames[0], 'GIF', save_all=True, append_images=frames[1:], duration=100, loop=0),
            'animated.png': encode(frames[0], 'PNG', save_all=True, append_images=frames[1:], duration=100)}

@pytest.fixture(scope='module')
def odd_photos(tmp_path_factory, shared_data)->Path:
    "Three real photos, one of each bear, each saved as every one of `variants`, in `<label>/` folders"
    path = tmp_path_factory.mktemp('odd')/'bears'
    for label in ('black', 'grizzly', 'teddy'):
        photo = Image.open(sorted((shared_data/'bears'/label).glob('*.jpg'))[5]).convert('RGB')
        photo.thumbnail((160, 160))  # small: the test is about opening, and should be quick
        (path/label).mkdir(parents=True)
        for name, data in variants(photo).items(): (path/label/name).write_bytes(data)
    return path

def test_variants_are_what_they_claim(odd_photos):
    "The files really are of the kinds the parity test is about"
    got = {}
    for fn in sorted((odd_photos/'grizzly').iterdir()):
        with Image.open(fn) as im:
            got[fn.name] = (im.mode, im.getexif().get(0x0112), 'transparency' in im.info, getattr(im, 'n_frames', 1))
    assert got == {'animated.gif': ('P', None, False, 2), 'animated.png': ('RGB', None, False, 2),
                   'cmyk.jpg': ('CMYK', None, False, 1), 'exif3.jpg': ('RGB', 3, False, 1),
                   'exif6.jpg': ('RGB', 6, False, 1), 'exif8.jpg': ('RGB', 8, False, 1),
                   'grey16.png': ('I;16', None, False, 1), 'la.png': ('LA', None, False, 1),
                   'palette.gif': ('P', None, True, 1), 'palette.png': ('P', None, True, 1),
                   'plain.jpg': ('RGB', None, False, 1), 'rgba.png': ('RGBA', None, False, 1)}, got

def test_training_sees_each_photo_as_the_predictor_does(trained, odd_photos):
    "Through the training pipeline (the recipe's `DataLoaders`, validation side) and a predictor (both share it): one tensor"
    predictor = Predictor.load(trained[1], check_domain=False)
    recipe = Recipe(**predictor.card['recipe'])
    every_photo_in_both = lambda items: (list(range(len(items))),) * 2  # training needs every label; we read validation
    dls = recipe.dataloaders(odd_photos, splitter=every_photo_in_both)
    files = list(dls.valid.items)
    trained_on = torch.cat([xb.cpu() for xb, _ in dls.valid])  # scaled to [0, 1]; the learner adds the normalisation
    served = torch.stack([torch.from_numpy(predictor.prepare(open_photo(fn))['photo']).permute(2, 0, 1).float() / 255
                          for fn in files])
    assert len(files) == 3 * len(variants(Image.new('RGB', (8, 8)))) == len(trained_on)
    # 1e-5: float rounding; one step of a pixel's value is 1/255 = 0.004
    differ = {f'{fn.parent.name}/{fn.name}': round((s - t).abs().max().item(), 3)
              for fn, t, s in zip(files, trained_on, served) if not torch.allclose(s, t, atol=1e-5, rtol=0)}
    assert differ == {}, differ  # the photo and the largest difference

def test_the_loader_shows_each_photo_as_taken(odd_photos):
    "Turned, converted or animated, a photo comes out as the plain one (JPEG's losses aside)"
    for label in ('black', 'grizzly', 'teddy'):
        plain = np.asarray(open_photo(odd_photos/label/'plain.jpg'), dtype=float)
        for name in ('exif3.jpg', 'exif6.jpg', 'exif8.jpg', 'cmyk.jpg', 'animated.png'):
            shown = np.asarray(open_photo(odd_photos/label/name), dtype=float)
            assert shown.shape == plain.shape and np.abs(shown - plain).mean() < 4, (label, name)
        rgba = np.asarray(open_photo(odd_photos/label/'rgba.png'))
        half = rgba.shape[1] // 2
        assert (rgba[:, :half] == 255).all() and np.abs(rgba[:, half + 1:] - plain[:, half + 1:]).mean() < 4, label
        grey = np.asarray(open_photo(odd_photos/label/'grey16.png'), dtype=float)
        assert np.abs(grey.mean(2) - np.asarray(Image.fromarray(plain.astype(np.uint8)).convert('L'))).mean() < 4, label

def heic(im:Image.Image, **kwargs)->bytes:
    "`im` as a HEIC file, written by pillow-heif itself (whether or not PIL has its opener)"
    import pillow_heif  # a requirement
    if not pillow_heif.libheif_info()['HEIF']: pytest.skip("this libheif has no HEVC encoder to write a HEIC file with")
    buf = io.BytesIO(); pillow_heif.from_pillow(im).save(buf, **kwargs); return buf.getvalue()

def test_a_heic_photo_opens(shared_data):
    photo = Image.open(sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[0]).convert('RGB')
    photo.thumbnail((160, 160))
    data = heic(photo, quality=95)
    assert data[4:12] == b'ftypheic'
    shown = open_photo(data)
    assert shown.mode == 'RGB' and shown.size == photo.size
    assert np.abs(np.asarray(shown, dtype=float) - np.asarray(photo, dtype=float)).mean() < 6

@pytest.mark.time_limit(120)
def test_without_pillow_heif_a_heic_photo_says_what_to_install(tmp_path):
    (tmp_path/'photo.heic').write_bytes(heic(Image.new('RGB', (32, 24), 'brown')))
    code = ("import sys; sys.modules['pillow_heif'] = None  # as if it were not installed\n"
            "from bearclf.data import HEIF_SUPPORT, open_photo\n"
            "from bearclf.core import UserError\n"
            "print('HEIF_SUPPORT', HEIF_SUPPORT)\n"
            "try: open_photo(sys.argv[1])\n"
            "except UserError as e: print('UserError:', e)\n")
    # in `tmp_path`: `python -c` imports from the folder it runs in first, and bearclf should be the installed one
    p = subprocess.run([sys.executable, '-c', code, str(tmp_path/'photo.heic')], capture_output=True, text=True,
                       encoding='utf-8', timeout=110, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.splitlines() == ['HEIF_SUPPORT False',
                                     'UserError: a HEIC/HEIF photo, which needs pillow-heif to be read: pip install pillow-heif'], p.stdout

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
@pytest.mark.filterwarnings('ignore::PIL.Image.DecompressionBombWarning')  # PIL's own, for the first bomb
def test_bad_photos_are_refused_with_a_clear_message(source, message, predictor):
    with pytest.raises(BadPhoto, match=message): open_photo(source)
    with pytest.raises(UserError, match=message): open_photo(source)  # one line from the CLI, no traceback
    pred = predictor.predict(source, 'upload')
    assert pred.error.startswith(message) and pred.label is None and pred.to_dict() == {'file': 'upload', 'error': pred.error}

@pytest.mark.filterwarnings('ignore::PIL.Image.DecompressionBombWarning')
def test_a_bomb_is_refused_before_it_is_decoded(monkeypatch):
    "From its header: not one of the 100 million pixels it claims is decoded (PIL alone only warns, under twice its limit)"
    decoded, real_load = [], ImageFile.ImageFile.load
    def recording_load(im): decoded.append(im.size); return real_load(im)
    monkeypatch.setattr(ImageFile.ImageFile, 'load', recording_load)
    with pytest.raises(BadPhoto, match='too many pixels'): open_photo(huge_png(10_000, 10_000))
    assert decoded == [], decoded
    open_photo(encode(Image.new('RGB', (9, 7)), 'PNG'))
    assert set(decoded) == {(9, 7)}, f'the check above would not see a photo being decoded: {decoded}'

def test_the_bomb_check_leaves_the_warning_filters_alone(monkeypatch):
    "Opening photos changes no process-wide state: the app and gather open them in several threads at once"
    filters_seen, real_open = [], Image.open
    def recording_open(*args, **kwargs):
        filters_seen.append(list(warnings.filters)); return real_open(*args, **kwargs)
    monkeypatch.setattr(Image, 'open', recording_open)
    before = list(warnings.filters)
    with pytest.raises(BadPhoto, match='too many pixels'): open_photo(huge_png(100_000, 100_000))
    open_photo(encode(Image.new('RGB', (9, 7)), 'PNG'))
    assert filters_seen == [before, before] and list(warnings.filters) == before, (before, filters_seen)

def test_a_bomb_under_twice_the_limit_is_refused_by_its_size():
    with pytest.warns(Image.DecompressionBombWarning):  # PIL only warns between its limit and twice it...
        with pytest.raises(BadPhoto, match=r'too many pixels \(10,000 x 10,000, over 89,478,485\)'):
            open_photo(huge_png(10_000, 10_000))  # ...and open_photo refuses it, by its size

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

@pytest.fixture(scope='module')
def bear_domain(trained, tmp_path_factory)->Path: # a model folder
    "The tiny model with the check that the course's photos teach (`bearclf.domain`): ImageNet's three bear classes"
    model = Path(shutil.copytree(trained[1], tmp_path_factory.mktemp('bear_domain')/'model'))
    card = json.loads((model/'model_card.json').read_text(encoding='utf-8'))
    card['domain'].update(arch='tf_efficientnet_lite0', size=224, min_scale=1.0, shares_body=False,  # a network of its own
                          imagenet_classes=[294, 295, 850], threshold=0.07, outside_label=NOT_A_BEAR)
    (model/'model_card.json').write_text(json.dumps(card), encoding='utf-8')
    return model

@pytest.mark.parametrize('load', PREDICTORS.values(), ids=PREDICTORS)
def test_the_domain_check_tells_cats_from_bears(bear_domain, shared_data, load):
    "The check sees each photo at its own size (224 px), not at the tiny model's (32 px)"
    cats = sorted((shared_data/'not_bears').rglob('*.jpg'))[:4]
    bears = [sorted((shared_data/'bears'/label).glob('*.jpg'))[3] for label in ('grizzly', 'black', 'teddy')]
    predictor = load(bear_domain)
    threshold = predictor.card['domain']['threshold']
    for pred in predictor.predict_many(cats):
        assert (pred.label, pred.in_domain) == (NOT_A_BEAR, False), pred
        assert pred.domain < threshold and pred.probability == pytest.approx(1 - pred.domain), pred
    for pred in predictor.predict_many(bears):
        assert pred.label in pred.probs and pred.in_domain and pred.domain >= threshold, pred

@pytest.mark.parametrize('load', PREDICTORS.values(), ids=PREDICTORS)
def test_without_the_domain_check_everything_gets_a_class(trained, shared_data, load):
    cat = sorted((shared_data/'not_bears').rglob('*.jpg'))[0]
    pred = load(trained[1], check_domain=False).predict(cat)
    assert pred.label in pred.probs and (pred.domain, pred.in_domain) == (None, None)
    assert set(pred.to_dict()) == {'file', 'label', 'probability', 'probs'}  # `predict --json` says nothing of a check
