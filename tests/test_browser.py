"""The model in the browser: the docs site's page `in_your_browser.html`, built by `bearclf docs`, classifies the photo
picked in its `<input type="file">` with onnxruntime-web, inside the page.

Headless Chromium opens the built site served on 127.0.0.1, with every request to anywhere else refused (and recorded:
the page must need none), picks a grizzly and a cat from the course's photos, and reads the verdict in `#verdict`;
then the files that can't be photos, each refused with its reason as `bearclf predict` refuses it. How long each
verdict takes after the model has loaded is printed (`pytest -s`), as a benchmark. And, offline, the download of
onnxruntime-web from a registry on 127.0.0.1: a tarball that isn't the one the registry published is refused.
"""
import base64, hashlib, io, json, re, struct, subprocess, tarfile, threading, time, zlib
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse
import pytest
from conftest import missing
from bearclf.core import UserError, label_words
from bearclf.docs import npm_tarball

REPO = Path(__file__).parents[1]
SITE = REPO/'_docs'
PAGE = 'in_your_browser.html'

class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass

def serve(folder:Path)->tuple: # `(the server, its address)`: `folder` served on 127.0.0.1 in a thread
    "Serve `folder` over HTTP on 127.0.0.1, on a free port"
    server = ThreadingHTTPServer(('127.0.0.1', 0), partial(QuietHandler, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f'http://127.0.0.1:{server.server_address[1]}/'

@pytest.fixture(scope='module')
def site():
    "The site built by `bearclf docs` (with the page's model and onnxruntime-web), served on 127.0.0.1"
    build = subprocess.run(['bearclf', 'docs'], cwd=REPO, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    if not (SITE/'in_your_browser'/'model.onnx').exists(): missing(f'no model for the page in the browser: {build.stdout}')
    server, url = serve(SITE)
    yield url
    server.shutdown()

@pytest.fixture(scope='module')
def page(browser, site):
    "The page, loaded with its model, every request outside 127.0.0.1 refused; `page.outside` lists those attempted"
    page = browser.new_page()
    page.outside, page.requests = [], []
    def only_local(route):
        if urlparse(route.request.url).hostname == '127.0.0.1': route.continue_()
        else: page.outside.append(route.request.url); route.abort()
    page.route('**/*', only_local)
    page.on('request', lambda request: page.requests.append(request.url))
    page.on('pageerror', lambda e: page.outside.append(f'page error: {e}'))  # a script that throws fails the test too
    started = time.perf_counter()
    page.goto(site + PAGE)
    page.wait_for_selector('#status[data-state="ready"], #status[data-state="error"]', timeout=30_000)
    assert page.get_attribute('#status', 'data-state') == 'ready', page.text_content('#status')
    print(f'\nthe page and its model loaded in {time.perf_counter() - started:.2f} s')
    # the site's theme asks Google Fonts for its typeface (refused here: the text falls back to the system's); the page
    # asks nothing else outside, and nothing at all once loaded
    assert all(urlparse(url).hostname == 'fonts.googleapis.com' for url in page.outside), page.outside
    page.outside.clear(); page.requests.clear()
    yield page
    page.close()

def pick(page, name:str, contents:bytes=None, path:Path=None)->tuple: # `(the verdict's text, seconds from pick to it)`
    "Pick a file in the page's file input, a real one (`path`) or one made here, and wait for the page's verdict"
    page.evaluate('document.getElementById("verdict").dataset.state = ""')
    started = time.perf_counter()
    page.set_input_files('input[type=file]', path or {'name': name, 'mimeType': 'image/jpeg', 'buffer': contents})
    page.wait_for_selector('#verdict[data-state="done"], #verdict[data-state="error"]', timeout=15_000)
    return page.text_content('#verdict'), time.perf_counter() - started

def test_one_file_input_and_a_verdict(page):
    assert page.locator('input[type=file]').count() == 1
    assert page.locator('#verdict').count() == 1

@pytest.mark.time_limit(120)
def test_grizzly_and_cat(page, shared_data):
    grizzly = sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[0]
    cat = sorted((shared_data/'not_bears'/'cats').glob('*.jpg'))[0]
    said, seconds = pick(page, grizzly.name, path=grizzly)
    assert said.startswith('Grizzly bear (') and said.endswith('% sure)'), said
    rows = page.eval_on_selector_all('#probs tr', 'rows => rows.map(r => r.textContent)')
    assert [r.split('%')[0].rstrip('0123456789.') for r in rows] == ['Black bear', 'Grizzly bear', 'Teddy bear'], rows
    assert page.eval_on_selector('#seen', 'c => !c.hidden && c.width') == 224  # the photo as the model saw it
    said_cat, seconds_cat = pick(page, cat.name, path=cat)
    assert said_cat.startswith('Not a bear'), said_cat
    times = []
    for photo in [grizzly, cat] * 3:  # again, to time them with the page warmed up
        times.append(pick(page, photo.name, path=photo)[1])
    ms = page.get_attribute('#verdict', 'data-ms')
    print(f'from pick to verdict: grizzly {seconds:.2f} s, cat {seconds_cat:.2f} s; then median '
          f'{sorted(times)[len(times) // 2]:.3f} s of {len(times)} (the page itself says {ms} ms for the last one)')
    assert page.outside == [] and page.requests == []  # nothing asked for once loaded, nothing outside ever

def made_photos(grizzly:Path)->dict: # `{name: contents}`
    "A grizzly as a phone may save it (EXIF-rotated), with transparency, and in the other formats the page reads"
    from PIL import Image
    import numpy as np
    im, out = Image.open(grizzly), {}
    def save(name, im, **kwargs): f = io.BytesIO(); im.save(f, **kwargs); out[name] = f.getvalue()
    exif = Image.Exif(); exif[0x0112] = 6  # "rotate 90° clockwise to show": the file's pixels lie on their side
    save('rotated.jpg', im, format='JPEG', exif=exif)
    rgba = np.array(im.convert('RGBA')); rgba[:, :150, 3] = 0; rgba[:, 150:250, 3] = 128
    save('transparent.png', Image.fromarray(rgba), format='PNG')
    save('progressive.jpg', im, format='JPEG', progressive=True)
    save('grey.png', im.convert('L'), format='PNG')
    for kind in ('WEBP', 'GIF', 'BMP'): save(f'photo.{kind.lower()}', im, format=kind)
    return out

@pytest.mark.time_limit(120)
def test_same_photo_view_and_probabilities_as_python(page, shared_data):
    "What the page shows the model (its canvas) is `bearclf.photo.prepare`'s view; what the model says, the runtime's"
    import numpy as np
    from bearclf.photo import open_photo, prepare
    from bearclf.runtime import OnnxPredictor
    predictor = OnnxPredictor.load(SITE/'in_your_browser'/'model.onnx')
    size, min_scale = predictor.inputs['photo']
    folders = ('bears/grizzly', 'bears/black', 'bears/teddy', 'not_bears/cats')
    photos = {f'{label}/{fn.name}': fn.read_bytes() for label in folders
              for fn in sorted((shared_data/label).glob('*.jpg'))[:2]}
    photos.update(made_photos(sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[0]))
    for name, contents in photos.items():
        said, _ = pick(page, name, contents)
        assert page.get_attribute('#verdict', 'data-state') == 'done', (name, said)
        seen = np.array(page.evaluate('() => Array.from(document.getElementById("seen").getContext("2d")'
                                      f'.getImageData(0, 0, {size}, {size}).data)'), dtype=np.uint8).reshape(size, size, 4)
        expected = prepare(open_photo(contents), size, min_scale)
        assert np.abs(seen[..., :3].astype(int) - expected).max() <= 1, name  # 0 here: PIL's resize, decoded alike
        python = predictor.predict(contents)
        probs = json.loads(page.get_attribute('#verdict', 'data-probs'))
        assert np.allclose(probs, list(python.probs.values()), atol=1e-4), (name, probs, python)
        assert abs(float(page.get_attribute('#verdict', 'data-domain')) - python.domain) < 1e-4, (name, python)
        words = label_words(python.label, predictor.classes)
        assert said.startswith(words[0].upper() + words[1:] + (', ' if python.in_domain is False else ' (')), (name, said)
    assert page.outside == [] and page.requests == []

def png_claiming(width:int, height:int)->bytes: # a whole, small PNG whose header says `width` x `height`
    "A valid 1x1 PNG with its IHDR changed to `width` x `height`: a decompression bomb, as far as its header goes"
    from PIL import Image
    out = io.BytesIO(); Image.new('RGB', (1, 1)).save(out, format='PNG'); data = bytearray(out.getvalue())
    ihdr = struct.pack('>II', width, height) + data[24:29]
    data[16:33] = ihdr + struct.pack('>I', zlib.crc32(b'IHDR' + ihdr))
    return bytes(data)

@pytest.mark.time_limit(120)
def test_bad_files_are_refused_with_the_reason(page, shared_data, tmp_path):
    grizzly = sorted((shared_data/'bears'/'grizzly').glob('*.jpg'))[0].read_bytes()
    from PIL import Image
    png = io.BytesIO(); Image.new('RGB', (64, 48), 'green').save(png, format='PNG')
    huge = tmp_path/'huge.jpg'
    with open(huge, 'wb') as f: f.write(grizzly); f.truncate(50_000_001)
    for name, contents, path, says in [
        ('empty.jpg', b'', None, "Can't use this file: the file is empty"),
        ('notes.txt', b'just some text, not a photo\n', None, "Can't use this file: not an image"),
        ('half.jpg', grizzly[:len(grizzly) // 2], None, "Can't use this file: the image is damaged (the JPEG ends before"),
        ('half.png', png.getvalue()[:-12], None, "Can't use this file: the image is damaged (the PNG ends before"),
        ('bomb.png', png_claiming(30_000, 30_000), None,
         "Can't use this file: too many pixels (30,000 x 30,000, over 89,478,485): possibly a decompression bomb"),
        ('huge.jpg', None, huge, "Can't use this file: the file is larger than 50,000,000 bytes")]:
        said, _ = pick(page, name, contents, path)
        assert said.startswith(says), (name, said)
        assert page.get_attribute('#verdict', 'data-state') == 'error' and page.locator('#probs tr').count() == 0
    said, _ = pick(page, 'whole.png', png.getvalue())  # the PNG whole, for contrast: a verdict, no complaint
    assert page.get_attribute('#verdict', 'data-state') == 'done', said
    assert page.outside == [] and page.requests == []

def made_tarball(files:dict)->bytes: # a `.tgz` holding `package/<name>` for each `name: contents`
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode='w:gz') as tar:
        for name, contents in files.items():
            info = tarfile.TarInfo(f'package/{name}'); info.size = len(contents)
            tar.addfile(info, io.BytesIO(contents))
    return out.getvalue()

def test_npm_tarball_from_a_local_registry_checked(tmp_path):
    "onnxruntime-web's download logic against a registry on 127.0.0.1: kept when it matches, refused when changed"
    registry = tmp_path/'registry'; (registry/'tiny'/'-').mkdir(parents=True)
    tgz = made_tarball({'dist/tiny.mjs': b'export const tiny = 1;'})
    integrity = 'sha512-' + base64.b64encode(hashlib.sha512(tgz).digest()).decode()
    (registry/'tiny'/'-'/'tiny-1.0.0.tgz').write_bytes(tgz)
    server, url = serve(registry)
    try:
        assert npm_tarball('tiny', '1.0.0', integrity, registry=url, cache=tmp_path/'npm') == tgz
        assert (tmp_path/'npm'/'tiny-1.0.0.tgz').read_bytes() == tgz
        (registry/'tiny'/'-'/'tiny-1.0.0.tgz').write_bytes(made_tarball({'dist/tiny.mjs': b'fetch("//evil")'}))
        with pytest.raises(UserError, match=rf'^{url}tiny/-/tiny-1.0.0.tgz is not tiny 1.0.0 as the npm registry '
                                            rf'published it: its sha512 is sha512-\S+, not {re.escape(integrity)}; '
                                            'nothing was kept$'):
            npm_tarball('tiny', '1.0.0', integrity, registry=url, cache=tmp_path/'other')
        assert not (tmp_path/'other').exists()
        with pytest.raises(UserError, match=r"^can't download http://127.0.0.1:\d+/absent/-/absent-1.0.0.tgz \(.*\); "
                                            'set BEARCLF_NPM_REGISTRY'):
            npm_tarball('absent', '1.0.0', integrity, registry=url, cache=tmp_path/'other')
    finally: server.shutdown()
