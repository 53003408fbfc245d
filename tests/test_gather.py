"""Tests of `bearclf.gather` against a real HTTP server on 127.0.0.1 (no other network).

The server (`FakeWeb`, below, a `bearclf.localweb.LocalServer`) answers each first path segment in its own way:
`/img/...` is a photo, `/missing/...` a 404, `/flaky/...` two 503s then a photo, and so on (see `ROUTES`). It counts
the requests for each path, so a test can say how many tries happened. Photos are small images made with PIL, the
same bytes for the same path, so a test knows exactly what the server sent. (`bearclf.localweb.LocalWeb`, the
lessons' stand-in for the web, is the same server answering with real photos and a few of these failures; its
tests are in nbs/api/01a_localweb.ipynb.)
"""
import csv, functools, hashlib, io, json, os, shutil, socket, subprocess, sys, threading, time, traceback, warnings, zlib
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np, pytest
from PIL import Image

import bearclf.gather as gather
from bearclf.core import UserError
from bearclf.gather import (Download, SearchError, download_image, download_images, failed_urls, gather_folder,
                            gather_search, get_bears, http_session, image_problem, image_suffix, near_duplicates,
                            quarantine_broken, quarantine_duplicates, rejected, saved_urls, search_bing, search_images,
                            search_serpapi, url_stem)
from bearclf.localweb import LocalServer, respond

# ---------------------------------------------------------------------------------------------------------------
# Photos made on the fly

def photo(key, size=(160, 120))->Image.Image:
    "A smooth random RGB image, the same for the same `key`; different keys give clearly different photos"
    rng = np.random.default_rng(zlib.crc32(str(key).encode()))
    return Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)

def encode(im, fmt, **kwargs)->bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()

@functools.lru_cache(maxsize=None)
def jpeg(key)->bytes: return encode(photo(key), 'JPEG', quality=90)

@functools.lru_cache(maxsize=None)
def png(key)->bytes: return encode(photo(key), 'PNG')

def truncated_jpeg(key)->bytes:
    data = jpeg(key)
    return data[:len(data)//2]

HTML = b'<!doctype html><html><head><title>Bears</title></head><body>Not a photo</body></html>'

# ---------------------------------------------------------------------------------------------------------------
# The fake web: one routine per first path segment (`respond(h, status, body, ctype, headers)` is localweb's)

def respond_chunked(h, chunks, ctype='image/jpeg', pause=0.):
    "Send `chunks` with `Transfer-Encoding: chunked` (no Content-Length), `pause` seconds apart"
    h.send_response(200)
    h.send_header('Content-Type', ctype)
    h.send_header('Transfer-Encoding', 'chunked')
    h.end_headers()
    for chunk in chunks:
        h.wfile.write(f'{len(chunk):x}\r\n'.encode() + chunk + b'\r\n')
        h.wfile.flush()
        time.sleep(pause)
    h.wfile.write(b'0\r\n\r\n')

def photo_response(h, path):
    if path.endswith('.png'): respond(h, body=png(path), ctype='image/png')
    else: respond(h, body=jpeg(path), ctype='image/jpeg')

def page_of(results, start, n): return results[start:start+n]

def fake_search(h, path, query, items):
    "A keyed search API: `/<api>/ok`, `/<api>/empty`, `/<api>/401` or `/<api>/500`"
    mode = path.split('/')[2]
    if mode == '401': return respond(h, 401, b'{"error": "bad key"}', 'application/json')
    if mode == '500': return respond(h, 500, b'{"error": "down"}', 'application/json')
    results = [] if mode == 'empty' else h.server.web.search_results.get(query.get('q'), [])
    respond(h, body=json.dumps(items(results)).encode(), ctype='application/json')

def bing(h, path, query, n):
    offset, count = int(query['offset']), int(query['count'])
    fake_search(h, path, query, lambda res: {'value': [{'contentUrl': u, 'name': 'a bear'} for u in page_of(res, offset, count)]})

def serpapi(h, path, query, n):
    ijn = int(query['ijn'])
    fake_search(h, path, query, lambda res: {'images_results': [{'original': u, 'position': i}
                                                                for i,u in enumerate(page_of(res, 100*ijn, 100))]})

def slow(h, path, query, n):  # /slow/<seconds>/...
    time.sleep(float(path.split('/')[2]))
    photo_response(h, path)

def huge_declared(h, path, query, n):
    "Declares a huge body, sends its first bytes, then stalls: only a client that reads the body notices the stall"
    h.send_response(200)
    h.send_header('Content-Type', 'image/jpeg')
    h.send_header('Content-Length', str(10**9))
    h.end_headers()
    h.wfile.write(jpeg(path)[:100])
    h.wfile.flush()
    time.sleep(1.)
    h.close_connection = True

def stalled_body(h, path, query, n):
    "Sends the headers and the first bytes of a photo, then nothing for 1 s"
    data = jpeg(path)
    h.send_response(200)
    h.send_header('Content-Type', 'image/jpeg')
    h.send_header('Content-Length', str(len(data)))
    h.end_headers()
    h.wfile.write(data[:100])
    h.wfile.flush()
    time.sleep(1.)
    h.close_connection = True

def double_length(h, path, query, n):
    "A photo with its Content-Length header sent twice (as some proxies do); clients see 'N, N'"
    data = jpeg(path)
    respond(h, body=data, ctype='image/jpeg', headers=[('Content-Length', str(len(data)))])

ROUTES = {
    'img':          lambda h, path, q, n: photo_response(h, path),
    'png-as-jpg':   lambda h, path, q, n: respond(h, body=png(path), ctype='image/jpeg'),
    'as-text':      lambda h, path, q, n: respond(h, body=jpeg(path), ctype='text/plain'),
    'missing':      lambda h, path, q, n: respond(h, 404, b'not here', 'text/plain'),
    'error':        lambda h, path, q, n: respond(h, 500, b'oops', 'text/plain'),
    'flaky':        lambda h, path, q, n: respond(h, 503, b'busy', 'text/plain') if n <= 2 else photo_response(h, path),
    'ratelimited':  lambda h, path, q, n: (respond(h, 429, b'slow down', 'text/plain', [('Retry-After', '0')]) if n == 1
                                           else photo_response(h, path)),
    'comeback':     lambda h, path, q, n: respond(h, 404, b'not yet', 'text/plain') if n == 1 else photo_response(h, path),
    'slow':         slow,
    'stalled-body': stalled_body,
    'html':         lambda h, path, q, n: respond(h, body=HTML, ctype='image/jpeg'),
    'truncated':    lambda h, path, q, n: respond(h, body=truncated_jpeg(path), ctype='image/jpeg'),
    'huge-declared': huge_declared,
    'huge-chunked': lambda h, path, q, n: respond_chunked(h, [jpeg(path)] + [b'\0'*16_384]*20),
    'trickle':      lambda h, path, q, n: respond_chunked(h, [jpeg(path)[:200]] + [b'\0'*100]*10, pause=0.1),
    'double-length': double_length,
    'loop':         lambda h, path, q, n: respond(h, 302, headers=[('Location', path)]),
    'redirect':     lambda h, path, q, n: respond(h, 302, headers=[('Location', '/img/' + path.split('/', 2)[2])]),
    'bing':         bing,
    'serpapi':      serpapi,
}  # any other path is a photo, so odd-looking URLs still download


class FakeWeb(LocalServer):
    "A local server that answers by `ROUTES`, records what it saw (`hits`, `log`, `max_inflight`) and the search results it gives"
    def reset(self):
        super().reset()
        self.search_results = {}

    def requests_to(self, path): return [r for r in self.log if r['path'] == path]

    def answer(self, h, path, query, n):
        ROUTES.get(path.split('/')[1], lambda h, path, q, n: photo_response(h, path))(h, path, query, n)


@pytest.fixture(scope='module')
def server():
    with FakeWeb() as web: yield web  # its threads are daemons: slow handlers never block the exit

@pytest.fixture
def web(server):
    "The fake web with fresh counters; afterwards, no answer of the fake web may have raised"
    server.reset()
    yield server
    assert server.errors == [], server.errors

@pytest.fixture
def sess():
    "A session that retries quickly"
    s = http_session(tries=3, backoff=0.01)
    yield s
    s.close()

@pytest.fixture
def dest(tmp_path):
    d = tmp_path/'photos'
    d.mkdir()
    return d

def unused_port()->int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

# ---------------------------------------------------------------------------------------------------------------
# Helpers to check what happened to each URL and file

def all_files(folder:Path)->list:
    "Names of everything in `folder`, hidden files (such as `.part` files) included"
    return sorted(p.name for p in folder.iterdir())

def by_url(results)->dict:
    return {d.url: d for d in results}

def assert_saved(d:Download, dest:Path, body:bytes, suffix:str):
    "`d` is a successful download whose file is `dest/<url_stem><suffix>` holding exactly `body`"
    assert d.status == 'ok', d
    assert d.reason == '', d
    fn = Path(d.path)
    assert fn == dest/f'{url_stem(d.url)}{suffix}', d
    assert fn.read_bytes() == body, f'{fn.name}: the bytes saved differ from those the server sent'

def assert_failed(d:Download, reason_start:str):
    assert d.status == 'failed', d
    assert d.reason.startswith(reason_start), f'expected a reason starting {reason_start!r}, got {d.reason!r}'
    assert d.path == '', d

def timed(f, *args, **kwargs):
    start = time.monotonic()
    res = f(*args, **kwargs)
    return res, time.monotonic() - start

# ---------------------------------------------------------------------------------------------------------------
# File names

def test_url_stem_is_16_hex_digits_of_sha1():
    url = 'http://example.com/bear.jpg'
    stem = url_stem(url)
    assert stem == hashlib.sha1(url.encode()).hexdigest()[:16]
    assert stem != url_stem(url + '?x=1')

@pytest.mark.parametrize('head, suffix', [
    (jpeg('x')[:16], '.jpg'), (png('x')[:16], '.png'), (b'GIF89a\x01\x00', '.gif'), (b'GIF87a\x01\x00', '.gif'),
    (b'BM\x00\x00', '.bmp'), (b'RIFF\x10\x00\x00\x00WEBPVP8 ', '.webp'),
    (HTML, None), (b'', None), (b'RIFF\x10\x00\x00\x00WAVEfmt ', None)])
def test_image_suffix_comes_from_magic_bytes(head, suffix):
    assert image_suffix(head) == suffix

# ---------------------------------------------------------------------------------------------------------------
# download_image: one URL

def test_good_jpeg_and_png_are_saved_as_url_stem_with_the_bytes_sent(web, sess, dest):
    urls = [web.url('/img/bear.jpg'), web.url('/img/bear.png')]
    res = by_url(download_images(urls, dest, sess=sess, progress=False))
    assert_saved(res[urls[0]], dest, jpeg('/img/bear.jpg'), '.jpg')
    assert_saved(res[urls[1]], dest, png('/img/bear.png'), '.png')
    assert all_files(dest) == sorted(Path(d.path).name for d in res.values())

def test_suffix_comes_from_content_not_url_or_content_type(web, sess, dest):
    png_as_jpg, jpg_as_text = web.url('/png-as-jpg/bear.jpg'), web.url('/as-text/bear.jpg')
    res = by_url(download_images([png_as_jpg, jpg_as_text], dest, sess=sess, progress=False))
    assert_saved(res[png_as_jpg], dest, png('/png-as-jpg/bear.jpg'), '.png')
    assert_saved(res[jpg_as_text], dest, jpeg('/as-text/bear.jpg'), '.jpg')
    assert len(all_files(dest)) == 2

def test_404_fails_and_is_not_retried(web, sess, dest):
    d = download_image(web.url('/missing/bear.jpg'), dest, sess=sess)
    assert_failed(d, 'HTTP 404')
    assert web.hits['/missing/bear.jpg'] == 1
    assert all_files(dest) == []

@pytest.mark.parametrize('tries', [1, 2, 3])
def test_persistent_500_fails_after_exactly_tries_requests(web, dest, tries):
    d = download_image(web.url('/error/bear.jpg'), dest, sess=http_session(tries=tries, backoff=0.01))
    assert_failed(d, 'HTTP 500')
    assert web.hits['/error/bear.jpg'] == tries
    assert all_files(dest) == []

def test_503_twice_then_image_is_retried_to_success(web, sess, dest):
    d = download_image(web.url('/flaky/bear.jpg'), dest, sess=sess)
    assert_saved(d, dest, jpeg('/flaky/bear.jpg'), '.jpg')
    assert web.hits['/flaky/bear.jpg'] == 3

def test_429_with_retry_after_0_then_image_is_retried_to_success(web, sess, dest):
    d, secs = timed(download_image, web.url('/ratelimited/bear.jpg'), dest, sess=sess)
    assert_saved(d, dest, jpeg('/ratelimited/bear.jpg'), '.jpg')
    assert web.hits['/ratelimited/bear.jpg'] == 2
    assert secs < 2

def test_slow_server_fails_in_bounded_time(web, sess, dest):
    # The server waits 1 s before answering, the client 0.5 s for each of its 3 tries
    d, secs = timed(download_image, web.url('/slow/1.0/bear.jpg'), dest, sess=sess, timeout=0.5)
    assert_failed(d, 'timed out')
    assert secs < 3 * 0.5 + 1, f'took {secs:.1f}s'
    for _ in range(50):  # the server may count the last try a moment after the client gave up on it
        if web.hits['/slow/1.0/bear.jpg'] == 3: break
        time.sleep(0.05)
    assert web.hits['/slow/1.0/bear.jpg'] == 3, 'a time-out is tried again, up to the session\'s 3 tries'
    assert all_files(dest) == []

@pytest.mark.parametrize('path', ['/slow/1.0/bear.jpg', '/stalled-body/bear.jpg'])
def test_read_timeout_is_reported_as_timed_out(web, sess, dest, path):
    d = download_image(web.url(path), dest, sess=sess, timeout=0.5)
    assert d.status == 'failed'
    # urllib3's retries wrap a read time-out in MaxRetryError, which requests reports as a ConnectionError
    assert d.reason == 'timed out', d

def test_deadline_stops_a_trickling_download(web, sess, dest):
    # Bytes arrive every 0.1 s (never a time-out), but the whole body takes about 1 s
    d, secs = timed(download_image, web.url('/trickle/bear.jpg'), dest, sess=sess, timeout=0.5, deadline=0.3)
    assert_failed(d, 'took longer than 0.3s')
    assert secs < 0.9
    assert all_files(dest) == []

def test_html_served_as_jpeg_is_refused_and_leaves_no_file(web, sess, dest):
    d = download_image(web.url('/html/bear.jpg'), dest, sess=sess)
    assert_failed(d, 'not an image (Content-Type: image/jpeg)')
    assert all_files(dest) == [], 'no photo and no hidden .part file may be left'

def test_declared_size_over_max_bytes_fails_without_reading_the_body(web, sess, dest):
    # The server stalls after 100 bytes: a client that read the body would hit its time-out
    d, secs = timed(download_image, web.url('/huge-declared/bear.jpg'), dest, sess=sess, timeout=0.5, max_bytes=1000)
    assert_failed(d, 'too large (over 1000 bytes)')
    assert secs < 0.5
    assert web.hits['/huge-declared/bear.jpg'] == 1
    assert all_files(dest) == []

def test_chunked_body_over_max_bytes_fails_and_leaves_no_part_file(web, sess, dest):
    d = download_image(web.url('/huge-chunked/bear.jpg'), dest, sess=sess, max_bytes=100_000)
    assert_failed(d, 'too large (over 100000 bytes)')
    assert all_files(dest) == [], 'no photo and no hidden .part file may be left'

def test_chunked_body_under_max_bytes_is_saved(web, sess, dest):
    d = download_image(web.url('/huge-chunked/bear.jpg'), dest, sess=sess, max_bytes=1_000_000)
    assert_saved(d, dest, jpeg('/huge-chunked/bear.jpg') + b'\0'*16_384*20, '.jpg')

def test_redirect_loop_fails_as_too_many_redirects(web, sess, dest):
    d, secs = timed(download_image, web.url('/loop/bear.jpg'), dest, sess=sess)
    assert_failed(d, 'too many redirects')
    assert web.hits['/loop/bear.jpg'] <= sess.max_redirects + 1
    assert secs < 2
    assert all_files(dest) == []

def test_single_redirect_to_a_photo_is_followed(web, sess, dest):
    url = web.url('/redirect/bear.jpg')
    d = download_image(url, dest, sess=sess)
    assert_saved(d, dest, jpeg('/img/bear.jpg'), '.jpg')  # named after the URL asked for, not the one redirected to
    assert web.hits['/redirect/bear.jpg'] == 1 and web.hits['/img/bear.jpg'] == 1

def test_connection_refused_fails(dest, sess):
    d, secs = timed(download_image, f'http://127.0.0.1:{unused_port()}/bear.jpg', dest, sess=sess, timeout=0.5)
    assert_failed(d, 'connection failed')
    assert secs < 2
    assert all_files(dest) == []

def test_hostile_urls_only_write_inside_dest(web, sess, tmp_path):
    dest = tmp_path/'deep'/'er'/'dest'
    urls = [web.url('/../../etc/passwd.jpg'), web.url('/img/../../../evil.jpg'), web.url('/img/%2e%2e%2f%2e%2e%2fevil.jpg'),
            web.url('/img/..%2F..%2F..%2Fevil.png'), web.url('/img/%252e%252e%252fevil.jpg'), web.url('/img/a%00b.jpg'),
            web.url('/img/%2F%2Fetc%2Fbear.jpg'), web.url('/img/bear.jpg?' + 'q=' + 'x'*5000)]
    outside_before = sorted(p.name for p in tmp_path.parent.iterdir())
    res = download_images(urls, dest, sess=sess, progress=False)
    assert [d.url for d in res] == urls
    for d in res:
        assert d.status == 'ok', d
        fn = Path(d.path)
        assert fn.resolve().parent == dest.resolve(), d
        assert fn.stem == url_stem(d.url) and fn.suffix in ('.jpg', '.png'), fn.name
    assert len(all_files(dest)) == len(urls)
    assert {p for p in tmp_path.rglob('*') if dest not in (p, *p.parents)} == {tmp_path/'deep', tmp_path/'deep'/'er'}
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == outside_before

def test_server_sees_bearclf_user_agent(web, sess, dest):
    download_image(web.url('/img/bear.jpg'), dest, sess=sess)
    download_image(web.url('/img/other.jpg'), dest)  # the default session too
    agents = [r['headers'].get('User-Agent', '') for r in web.log]
    assert len(agents) == 2
    assert all(a.startswith('bearclf/') for a in agents), agents

def test_duplicated_content_length_header_is_read_as_the_one_length(web, sess, dest):
    good, odd = web.url('/img/bear.jpg'), web.url('/double-length/bear.jpg')
    res = by_url(download_images([good, odd], dest, sess=sess, progress=False))
    assert_saved(res[good], dest, jpeg('/img/bear.jpg'), '.jpg')
    assert_saved(res[odd], dest, jpeg('/double-length/bear.jpg'), '.jpg')  # 'N, N' is N: the photo, whole

# ---------------------------------------------------------------------------------------------------------------
# download_images: many URLs

def test_second_run_skips_existing_files_and_retries_only_failed_ones(web, sess, dest):
    urls = [web.url('/img/a.jpg'), web.url('/img/b.png'), web.url('/missing/c.jpg'), web.url('/comeback/d.jpg')]
    first = by_url(download_images(urls, dest, sess=sess, progress=False))
    assert_saved(first[urls[0]], dest, jpeg('/img/a.jpg'), '.jpg')
    assert_saved(first[urls[1]], dest, png('/img/b.png'), '.png')
    assert_failed(first[urls[2]], 'HTTP 404')
    assert_failed(first[urls[3]], 'HTTP 404')
    before = web.hits.copy()

    second = by_url(download_images(urls, dest, sess=sess, progress=False))
    for url in urls[:2]:
        assert second[url] == Download(url, 'exists', first[url].path), second[url]
    assert_failed(second[urls[2]], 'HTTP 404')
    assert_saved(second[urls[3]], dest, jpeg('/comeback/d.jpg'), '.jpg')
    assert web.hits - before == Counter({'/missing/c.jpg': 1, '/comeback/d.jpg': 1}), 'only the failed URLs are asked for again'
    assert len(all_files(dest)) == 3

def test_repeated_urls_are_downloaded_once(web, sess, dest):
    a, b = web.url('/img/a.jpg'), web.url('/img/b.jpg')
    res = download_images([a, b, a, a, b], dest, sess=sess, progress=False)
    assert [d.url for d in res] == [a, b]
    assert all(d.status == 'ok' for d in res), res
    assert web.hits == Counter({'/img/a.jpg': 1, '/img/b.jpg': 1})
    assert len(all_files(dest)) == 2

def test_parallel_downloads_all_succeed_in_input_order(web, dest):
    paths = [f'/slow/0.3/{i}.jpg' if i % 3 == 0 else f'/img/{i}.{"png" if i % 2 else "jpg"}' for i in range(20)]
    urls = [web.url(p) for p in paths]
    sess = http_session(tries=3, backoff=0.01, pool=8)
    res, secs = timed(download_images, urls, dest, n_workers=8, sess=sess, progress=False)
    assert [d.url for d in res] == urls
    for p,d in zip(paths, res):
        assert_saved(d, dest, png(p) if p.endswith('.png') else jpeg(p), Path(p).suffix)
    assert set(web.hits.values()) == {1} and len(web.hits) == 20
    assert web.max_inflight > 1, 'downloads should overlap'
    assert secs < 7 * 0.3, f'7 slow downloads of 0.3 s took {secs:.1f}s in all: not in parallel'

def test_download_images_passes_timeout_to_each_download(web, sess, dest):
    # Each photo comes in 0.3 s, well inside a 0.5 s time-out; one at a time they take about 1.2 s in all
    urls = [web.url(f'/slow/0.3/{i}.jpg') for i in range(4)]
    # fastcore's `parallel` has a `timeout` of its own (for the whole batch): it must not take this one
    res = download_images(urls, dest, n_workers=1, sess=sess, progress=False, timeout=0.5)
    assert [d.status for d in res] == ['ok']*4

# ---------------------------------------------------------------------------------------------------------------
# quarantine_broken

def test_truncated_jpeg_downloads_then_quarantine_broken_moves_it(web, sess, tmp_path):
    root = tmp_path/'bears'
    good, cut = web.url('/img/bear.jpg'), web.url('/truncated/bear.jpg')
    res = by_url(download_images([good, cut], root/'grizzly', sess=sess, progress=False))
    assert_saved(res[good], root/'grizzly', jpeg('/img/bear.jpg'), '.jpg')
    assert_saved(res[cut], root/'grizzly', truncated_jpeg('/truncated/bear.jpg'), '.jpg')  # its magic bytes are fine

    moved = quarantine_broken(root, progress=False)
    cut_name = Path(res[cut].path).name
    assert list(moved) == [root/'.rejected'/'grizzly'/cut_name]
    assert moved[0].read_bytes() == truncated_jpeg('/truncated/bear.jpg')
    assert all_files(root/'grizzly') == [Path(res[good].path).name]
    [(path, reason)] = rejected(root)
    assert path == f'grizzly/{cut_name}'
    assert 'truncated' in reason, reason

def test_rejected_is_empty_before_anything_is_quarantined(tmp_path):
    assert rejected(tmp_path) == []

@pytest.mark.filterwarnings('ignore::PIL.Image.DecompressionBombWarning')
def test_bomb_check_holds_while_another_thread_checks_a_photo(tmp_path, monkeypatch):
    """Two threads, in the order that broke `warnings.catch_warnings`: G starts checking a good photo, B starts
    checking one over the pixel limit (under twice the limit, where PIL only warns), G finishes, then B reads its
    header. B must still refuse its photo, and the process's warning filters must be as they were"""
    good, big = tmp_path/'good.png', tmp_path/'big.png'
    Image.new('RGB', (8, 8)).save(good)
    Image.new('RGB', (40, 40)).save(big)
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 1000)
    real_open, g_in, b_in, g_done = Image.open, threading.Event(), threading.Event(), threading.Event()
    def open_in_turn(fp, *args, **kwargs):  # `open_photo` opens the file's bytes
        if fp.getvalue() == good.read_bytes(): g_in.set(); b_in.wait(5)
        else: b_in.set(); g_done.wait(5)
        return real_open(fp, *args, **kwargs)
    monkeypatch.setattr(Image, 'open', open_in_turn)
    filters, found = list(warnings.filters), {}
    tg = threading.Thread(target=lambda: found.update(good=image_problem(good)))
    tb = threading.Thread(target=lambda: found.update(big=image_problem(big)))
    tg.start(); assert g_in.wait(5)
    tb.start(); tg.join(5)
    g_done.set(); tb.join(5)
    assert found['good'] is None, found
    assert (found['big'] or '').startswith('too many pixels (40 x 40, over 1,000)'), found
    assert warnings.filters == filters, 'the warning filters were changed'

def test_quarantine_broken_in_threads_refuses_every_photo_over_the_limit(tmp_path, monkeypatch):
    root = tmp_path/'bears'
    (root/'grizzly').mkdir(parents=True)
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 1000)  # 40x40 is over it; 48x48 over twice it (PIL raises)
    for i in range(24): Image.new('RGB', [(40, 40), (48, 48), (8, 8)][i % 3]).save(root/'grizzly'/f'{i:02d}.png')
    filters = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', Image.DecompressionBombWarning)
        moved = quarantine_broken(root, progress=False)
    assert sorted(p.name for p in moved) == [f'{i:02d}.png' for i in range(24) if i % 3 != 2]
    assert warnings.filters == filters

# ---------------------------------------------------------------------------------------------------------------
# Keyed search backends

def use_api(monkeypatch, web, api, mode='ok'):
    "Point the `api` backend ('bing' or 'serpapi') at the fake web, answering in `mode`"
    var = dict(bing='BING_SEARCH', serpapi='SERPAPI')[api]
    monkeypatch.setenv(f'{var}_ENDPOINT', web.url(f'/{api}/{mode}'))
    monkeypatch.setenv(f'{var}_KEY', f'{api}-test-key')
    return f'/{api}/{mode}'

def some_urls(n): return [f'http://photos.invalid/bear/{i}.jpg' for i in range(n)]

@pytest.mark.parametrize('max_images, offsets, n', [(100, ['0'], 100), (160, ['0', '150'], 160),
                                                    (400, ['0', '150', '300'], 200)])
def test_bing_pages_until_an_empty_page_or_max_images(web, sess, monkeypatch, max_images, offsets, n):
    endpoint = use_api(monkeypatch, web, 'bing')
    web.search_results = {'grizzly bear': some_urls(200)}
    urls = search_bing('grizzly bear', max_images, sess=sess)
    assert list(urls) == some_urls(200)[:n]
    reqs = web.requests_to(endpoint)
    assert [r['query']['offset'] for r in reqs] == offsets
    for r in reqs:
        assert r['query']['q'] == 'grizzly bear' and r['query']['count'] == '150'
        assert r['headers']['Ocp-Apim-Subscription-Key'] == 'bing-test-key'

@pytest.mark.parametrize('max_images, pages, n', [(50, ['0'], 50), (150, ['0', '1'], 150),
                                                  (1000, ['0', '1', '2', '3'], 250)])
def test_serpapi_pages_until_an_empty_page_or_max_images(web, sess, monkeypatch, max_images, pages, n):
    endpoint = use_api(monkeypatch, web, 'serpapi')
    web.search_results = {'black bear': some_urls(250)}
    urls = search_serpapi('black bear', max_images, sess=sess)
    assert list(urls) == some_urls(250)[:n]
    reqs = web.requests_to(endpoint)
    assert [r['query']['ijn'] for r in reqs] == pages
    for r in reqs:
        assert r['query'] == dict(engine='google_images', q='black bear', ijn=r['query']['ijn'], api_key='serpapi-test-key')

class FakeDDGS:
    "Stands in for `ddgs.DDGS`: each call to `images` takes the next outcome, an exception to raise or URLs to return"
    outcomes, calls = [], []
    def images(self, query, max_results):
        FakeDDGS.calls.append((query, max_results))
        outcome = FakeDDGS.outcomes.pop(0)
        if isinstance(outcome, Exception): raise outcome
        return [{'image': u, 'title': 'a bear'} for u in outcome]

@pytest.fixture
def fake_ddgs(monkeypatch):
    import ddgs
    FakeDDGS.outcomes, FakeDDGS.calls = [], []
    monkeypatch.setattr(ddgs, 'DDGS', FakeDDGS)
    return FakeDDGS

def test_ddg_retries_rate_limits_then_returns_urls(fake_ddgs):
    from ddgs.exceptions import RatelimitException, TimeoutException
    fake_ddgs.outcomes = [RatelimitException('202 Ratelimit'), TimeoutException('slow'), some_urls(3)]
    assert list(gather.search_ddg('grizzly bear', 3, backoff=0)) == some_urls(3)
    assert fake_ddgs.calls == [('grizzly bear', 3)] * 3

def test_ddg_gives_up_after_tries_with_a_clear_message(fake_ddgs):
    from ddgs.exceptions import RatelimitException
    fake_ddgs.outcomes = [RatelimitException('202 Ratelimit')] * 10
    with pytest.raises(SearchError, match='DuckDuckGo is refusing searches'):
        gather.search_ddg('grizzly bear', tries=4, backoff=0)
    assert len(fake_ddgs.calls) == 4, 'a bounded number of tries'

def test_ddg_with_no_results_is_an_error_not_an_empty_list(fake_ddgs):
    from ddgs.exceptions import DDGSException
    fake_ddgs.outcomes = [DDGSException('No results found.')]
    with pytest.raises(SearchError, match="ddg search for 'grizzly bear' failed: No results found"):
        search_images('grizzly bear', backend='ddg')
    fake_ddgs.outcomes = [[]]
    with pytest.raises(SearchError, match="found no images"): search_images('grizzly bear', backend='ddg')

def test_search_images_uses_the_backend_asked_for(web, monkeypatch):
    use_api(monkeypatch, web, 'serpapi')
    web.search_results = {'teddy bear': some_urls(3)}
    assert list(search_images('teddy bear', 10, backend='serpapi')) == some_urls(3)

@pytest.mark.parametrize('api, search', [('bing', search_bing), ('serpapi', search_serpapi)])
def test_refused_key_raises_search_error_about_the_key(web, sess, monkeypatch, api, search):
    endpoint = use_api(monkeypatch, web, api, '401')
    with pytest.raises(SearchError, match='API key'): search('grizzly bear', sess=sess)
    assert web.hits[endpoint] == 1
    with pytest.raises(SearchError, match='API key'): search_images('grizzly bear', backend=api)
    assert web.hits[endpoint] == 2

@pytest.mark.parametrize('api, search', [('bing', search_bing), ('serpapi', search_serpapi)])
def test_persistent_500_raises_search_error_after_bounded_requests(web, sess, monkeypatch, api, search):
    endpoint = use_api(monkeypatch, web, api, '500')
    start = time.monotonic()
    with pytest.raises(SearchError, match='HTTP 500'): search('grizzly bear', 1000, sess=sess)
    assert web.hits[endpoint] == 3, 'one request and two retries, then give up'
    assert time.monotonic() - start < 2

def test_search_images_with_no_results_raises_found_no_images(web, monkeypatch):
    endpoint = use_api(monkeypatch, web, 'bing', 'empty')
    with pytest.raises(SearchError, match='found no images'): search_images('polar bear', backend='bing')
    assert web.hits[endpoint] == 1

def test_missing_key_raises_search_error_naming_the_variable(web, monkeypatch):
    use_api(monkeypatch, web, 'bing')
    monkeypatch.delenv('BING_SEARCH_KEY')
    with pytest.raises(SearchError, match='BING_SEARCH_KEY'): search_images('grizzly bear', backend='bing')
    monkeypatch.delenv('SERPAPI_KEY', raising=False)
    with pytest.raises(SearchError, match='SERPAPI_KEY'): search_images('grizzly bear', backend='serpapi')

def test_unknown_backend_is_a_user_error():
    with pytest.raises(UserError, match='unknown search backend'): search_images('grizzly bear', backend='altavista')

def test_search_error_is_a_user_error():
    assert issubclass(SearchError, UserError), 'the command line prints a UserError as one line'

def test_bing_is_retired_and_never_chosen_unless_an_endpoint_speaks_its_protocol(monkeypatch):
    monkeypatch.delenv('BING_SEARCH_ENDPOINT', raising=False)
    monkeypatch.delenv('SERPAPI_KEY', raising=False)
    monkeypatch.setenv('BING_SEARCH_KEY', 'a-key-from-2024')
    assert gather.default_backend() == 'ddg'
    with pytest.raises(UserError, match='retired the Bing Search APIs in August 2025'):
        search_images('grizzly bear', backend='bing')
    monkeypatch.setenv('BING_SEARCH_ENDPOINT', gather.BING_ENDPOINT)
    with pytest.raises(UserError, match='retired'): search_images('grizzly bear', backend='bing')

def test_serpapi_key_is_in_no_error_message_nor_traceback(monkeypatch):
    monkeypatch.setenv('SERPAPI_ENDPOINT', f'http://127.0.0.1:{unused_port()}/search.json')
    monkeypatch.setenv('SERPAPI_KEY', 'sk-very-secret-0123')
    with pytest.raises(SearchError) as info: search_images('grizzly bear', backend='serpapi')
    assert 'connection failed' in str(info.value), str(info.value)
    shown = ''.join(traceback.format_exception(info.value))  # what `--debug` would print
    assert 'sk-very-secret-0123' not in shown, shown

def test_serpapi_answer_that_is_not_json_is_a_search_error(web, sess, monkeypatch):
    monkeypatch.setenv('SERPAPI_ENDPOINT', web.url('/html/search.json'))
    monkeypatch.setenv('SERPAPI_KEY', 'serpapi-test-key')
    with pytest.raises(SearchError, match='could not be searched: JSONDecodeError'):
        search_serpapi('grizzly bear', sess=sess)

def test_a_bug_inside_ddgs_keeps_its_type_and_traceback(fake_ddgs):
    fake_ddgs.outcomes = [TypeError("images() got an unexpected keyword argument 'max_results'")]
    with pytest.raises(TypeError, match='unexpected keyword'): search_images('grizzly bear', backend='ddg')

# ---------------------------------------------------------------------------------------------------------------
# gather_search, end to end against the fake Bing and the fake photo server

def bear_search_results(web)->dict:
    return {'grizzly bear': [web.url('/img/g1.jpg'), web.url('/img/g2.png'), web.url('/missing/g3.jpg')],
            'black bear':   [web.url('/img/b1.jpg'), web.url('/html/b2.jpg'), web.url('/img/b3.jpg')]}

def gather_bears(dest, sess):
    return gather_search(dest, labels=('grizzly', 'black'), max_images=10, backend='bing', sess=sess, progress=False)

def read_report(dest)->dict:
    with open(dest/'downloads.csv', newline='') as f: return {row['url']: row for row in csv.DictReader(f)}

def test_gather_search_writes_urls_report_and_photos(web, sess, monkeypatch, tmp_path):
    endpoint = use_api(monkeypatch, web, 'bing')
    web.search_results = results = bear_search_results(web)
    dest = tmp_path/'bears'
    assert gather_bears(dest, sess) == dest

    assert [r['query']['q'] for r in web.requests_to(endpoint)] == ['grizzly bear', 'black bear']
    for label in ('grizzly', 'black'):
        asked = dict(query=f'{label} bear', backend='bing', max_images=10)
        assert saved_urls(dest/label) == (asked, results[f'{label} bear'])
    report = read_report(dest)
    assert len(report) == 6
    expected = {'/img/g1.jpg': ('ok', ''), '/img/g2.png': ('ok', ''), '/missing/g3.jpg': ('failed', 'HTTP 404'),
                '/img/b1.jpg': ('ok', ''), '/html/b2.jpg': ('failed', 'not an image'), '/img/b3.jpg': ('ok', '')}
    for path, (status, reason) in expected.items():
        row = report[web.url(path)]
        assert row['status'] == status and row['reason'].startswith(reason), row
    for label, path, body in [('grizzly', '/img/g1.jpg', jpeg), ('grizzly', '/img/g2.png', png),
                              ('black', '/img/b1.jpg', jpeg), ('black', '/img/b3.jpg', jpeg)]:
        fn = dest/label/f'{url_stem(web.url(path))}{Path(path).suffix}'
        assert report[web.url(path)]['path'] == fn.as_posix()
        assert fn.read_bytes() == body(path)
    assert sorted(p.name for p in dest.iterdir()) == ['.failed_urls.csv', '.lock', '.verified.json', 'black',
                                                      'downloads.csv', 'grizzly']
    assert len(all_files(dest/'grizzly')) == 3 and len(all_files(dest/'black')) == 3  # 2 photos + urls.txt each

def test_gather_search_rerun_reads_urls_txt_and_does_not_search_nor_retry_what_failed_for_good(web, sess, monkeypatch,
                                                                                                 tmp_path):
    use_api(monkeypatch, web, 'bing')
    web.search_results = bear_search_results(web)
    dest = tmp_path/'bears'
    gather_bears(dest, sess)
    web.reset()
    broken_endpoint = use_api(monkeypatch, web, 'bing', '500')

    gather_bears(dest, sess)
    assert web.hits[broken_endpoint] == 0, 'no search: the URLs come from urls.txt'
    report = read_report(dest)
    expected = {'/img/g1.jpg': 'exists', '/img/g2.png': 'exists', '/missing/g3.jpg': 'failed',
                '/img/b1.jpg': 'exists', '/html/b2.jpg': 'failed', '/img/b3.jpg': 'exists'}
    assert {url: row['status'] for url,row in report.items()} == {web.url(p): s for p,s in expected.items()}
    assert report[web.url('/missing/g3.jpg')]['reason'] == 'HTTP 404 Not Found'
    assert web.hits == Counter(), 'a 404 and a web page fail for good: not asked for again'

def test_gather_search_retries_a_failure_that_may_pass_for_a_few_runs_then_gives_up(web, sess, monkeypatch, tmp_path):
    use_api(monkeypatch, web, 'bing')
    dest, hits = tmp_path/'bears', []
    for run in range(gather.GIVE_UP_AFTER + 1):
        web.reset()
        web.search_results = {'grizzly bear': [web.url('/img/g1.jpg'), web.url('/error/g2.jpg')],
                              'black bear': [web.url('/img/b1.jpg')]}
        gather_bears(dest, sess)
        hits.append(web.hits['/error/g2.jpg'])
        assert read_report(dest)[web.url('/error/g2.jpg')]['reason'] == 'HTTP 500 Internal Server Error'
    assert hits == [3] * gather.GIVE_UP_AFTER + [0], 'tried (3 requests each) in each of the first runs, then given up'
    assert failed_urls(dest) == {web.url('/error/g2.jpg'): ('HTTP 500 Internal Server Error', gather.GIVE_UP_AFTER)}

@pytest.mark.parametrize('change', [dict(query='{} bear photo'), dict(max_images=2), dict(backend='serpapi')])
def test_gather_search_searches_again_when_asked_another_search(web, sess, monkeypatch, tmp_path, change):
    ends = {api: use_api(monkeypatch, web, api) for api in ('bing', 'serpapi')}
    results = lambda: {**bear_search_results(web), 'grizzly bear photo': [web.url('/img/g9.jpg')],
                       'black bear photo': [web.url('/img/b9.jpg')]}
    dest = tmp_path/'bears'
    web.search_results = results()
    gather_bears(dest, sess)
    web.reset()
    web.search_results = results()
    asked = {**dict(query='{} bear', max_images=10, backend='bing'), **change}
    gather_search(dest, labels=('grizzly', 'black'), sess=sess, progress=False, **asked)
    searched = web.requests_to(ends[asked['backend']])
    assert [r['query']['q'] for r in searched] == [asked['query'].format(l) for l in ('grizzly', 'black')]
    saved, urls = saved_urls(dest/'grizzly')
    assert saved == {**asked, 'query': asked['query'].format('grizzly')}
    assert urls == results()[asked['query'].format('grizzly')][:asked['max_images']]

def test_gather_search_searches_again_over_a_urls_txt_that_does_not_say_what_was_asked(web, sess, monkeypatch, tmp_path):
    endpoint = use_api(monkeypatch, web, 'bing')
    web.search_results = bear_search_results(web)
    dest = tmp_path/'bears'
    for label in ('grizzly', 'black'):
        (dest/label).mkdir(parents=True)
        (dest/label/'urls.txt').write_text('http://photos.invalid/old.jpg\n', encoding='utf-8')  # an older bearclf's
    gather_bears(dest, sess)
    assert len(web.requests_to(endpoint)) == 2
    assert saved_urls(dest/'black')[1] == bear_search_results(web)['black bear']

def test_gather_search_rerun_does_not_download_rejected_photos_again(web, sess, monkeypatch, tmp_path):
    use_api(monkeypatch, web, 'bing')
    web.search_results = {'grizzly bear': [web.url('/img/g1.jpg'), web.url('/truncated/g2.jpg')],
                          'black bear':   [web.url('/img/b1.jpg'), web.url('/img/b2.jpg')]}
    dest = tmp_path/'bears'
    gather_bears(dest, sess)
    assert [row[0] for row in rejected(dest)] == [f"grizzly/{url_stem(web.url('/truncated/g2.jpg'))}.jpg"]
    web.reset()

    gather_bears(dest, sess)
    assert web.hits['/truncated/g2.jpg'] == 0, 'a rejected photo is not downloaded again'
    assert len(rejected(dest)) == 1, 'nor rejected again'
    row = read_report(dest)[web.url('/truncated/g2.jpg')]
    assert row['status'] == 'rejected' and row['reason'].startswith('the image is damaged'), row

# ---------------------------------------------------------------------------------------------------------------
# Near-duplicates

def save_photo(fn:Path, key, size=(256, 192), quality=95)->Path:
    fn.parent.mkdir(parents=True, exist_ok=True)
    im = photo(key, size=(256, 192)).resize(size)
    if fn.suffix == '.png': im.save(fn)
    else: im.save(fn, quality=quality)
    return fn

def make_bear_folder(root:Path)->dict:
    "Label folders with a near-duplicate pair, a photo under two labels and distinct photos; name -> path"
    return dict(
        big       = save_photo(root/'grizzly'/'big.jpg', 'A'),
        small     = save_photo(root/'grizzly'/'small.jpg', 'A', size=(128, 96), quality=60),  # resized, recompressed
        unique_g  = save_photo(root/'grizzly'/'unique.jpg', 'B'),
        same_g    = save_photo(root/'grizzly'/'same.jpg', 'C'),
        same_b    = save_photo(root/'black'/'same.png', 'C'),
        unique_b1 = save_photo(root/'black'/'one.jpg', 'D'),
        unique_b2 = save_photo(root/'black'/'two.png', 'E'))

def test_distinct_test_photos_are_not_near_duplicates(tmp_path):
    fns = [save_photo(tmp_path/f'{k}.jpg', k) for k in 'ABCDE']
    assert near_duplicates(fns) == []

def test_quarantine_duplicates_keeps_the_larger_copy_and_rejects_cross_label_photos(tmp_path):
    root = tmp_path/'bears'
    fns = make_bear_folder(root)
    moved = quarantine_duplicates(root)

    assert sorted(moved) == sorted(root/'.rejected'/fns[k].relative_to(root) for k in ('small', 'same_g', 'same_b'))
    for k in ('big', 'unique_g', 'unique_b1', 'unique_b2'): assert fns[k].exists(), k
    for k in ('small', 'same_g', 'same_b'): assert not fns[k].exists(), k
    assert sorted(rejected(root)) == sorted([['grizzly/small.jpg', 'near-duplicate of big.jpg'],
                                             ['grizzly/same.jpg', 'same photo under labels black, grizzly'],
                                             ['black/same.png', 'same photo under labels black, grizzly']])

# ---------------------------------------------------------------------------------------------------------------
# gather_folder

def make_source(src:Path)->dict:
    fns = make_bear_folder(src)
    fns['broken'] = src/'grizzly'/'broken.jpg'
    fns['broken'].write_bytes(truncated_jpeg('broken'))
    return fns

def snapshot(folder:Path)->dict:
    "Every file under `folder` (hidden ones included) -> its bytes and modification time"
    return {p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob('*') if p.is_file()}

KEPT = ['black/one.jpg', 'black/two.png', 'grizzly/big.jpg', 'grizzly/unique.jpg']
REJECTED = ['black/same.png', 'grizzly/broken.jpg', 'grizzly/same.jpg', 'grizzly/small.jpg']

def test_gather_folder_copies_the_photos_and_quarantines_broken_and_duplicates(tmp_path):
    src, dest = tmp_path/'src', tmp_path/'dest'
    make_source(src)
    assert gather_folder(src, dest) == dest
    assert sorted(str(p.relative_to(dest)) for p in dest.glob('[!.]*/*')) == KEPT
    for rel in KEPT: assert (dest/rel).read_bytes() == (src/rel).read_bytes(), rel
    assert sorted(str(p.relative_to(dest/'.rejected')) for p in (dest/'.rejected').glob('*/*')) == REJECTED
    reasons = dict(rejected(dest))
    assert sorted(reasons) == REJECTED
    assert 'truncated' in reasons['grizzly/broken.jpg']
    assert reasons['grizzly/small.jpg'] == 'near-duplicate of big.jpg'

def test_gather_folder_leaves_src_unchanged(tmp_path):
    src = tmp_path/'src'
    make_source(src)
    before = snapshot(src)
    gather_folder(src, tmp_path/'dest')
    assert snapshot(src) == before

def test_gather_folder_rerun_does_not_copy_rejected_photos_again(tmp_path, monkeypatch):
    src, dest = tmp_path/'src', tmp_path/'dest'
    make_source(src)
    gather_folder(src, dest)
    rows, state = rejected(dest), snapshot(dest)
    copies = []
    monkeypatch.setattr(gather.shutil, 'copy2', lambda a, b: copies.append((a, b)) or shutil.copy(a, b))

    gather_folder(src, dest)
    assert copies == []
    assert rejected(dest) == rows
    assert snapshot(dest) == state

def test_gather_folder_copies_photos_added_to_src_later(tmp_path):
    src, dest = tmp_path/'src', tmp_path/'dest'
    make_source(src)
    gather_folder(src, dest)
    new = save_photo(src/'black'/'new.jpg', 'F')
    gather_folder(src, dest)
    assert (dest/'black'/'new.jpg').read_bytes() == new.read_bytes()

def test_gather_folder_needs_two_labels(tmp_path):
    src = tmp_path/'src'
    save_photo(src/'grizzly'/'a.jpg', 'A')
    with pytest.raises(UserError, match='at least two label'): gather_folder(src, tmp_path/'dest')
    assert not (tmp_path/'dest').exists()

def test_gather_folder_rerun_decodes_and_hashes_nothing_but_what_changed(tmp_path, monkeypatch):
    src, dest = tmp_path/'src', tmp_path/'dest'
    make_source(src)
    gather_folder(src, dest)
    opened, real_open = [], gather.open_photo
    monkeypatch.setattr(gather, 'open_photo', lambda fn, *a, **k: opened.append(photo_name(fn)) or real_open(fn, *a, **k))
    gather_folder(src, dest)
    assert opened == [], 'every photo was verified and hashed before, and none changed'
    os.utime(dest/'grizzly'/'big.jpg', ns=(10**18, 10**18))  # touched: it may have been edited
    gather_folder(src, dest)
    assert opened == ['grizzly/big.jpg']

def photo_name(fn): return '/'.join(Path(fn).parts[-2:])

def test_a_gather_after_an_interrupted_one_quarantines_the_photo_it_left(tmp_path, monkeypatch):
    src = tmp_path/'src'
    make_bear_folder(src)
    monkeypatch.setenv('BEARCLF_DATA', str(src))
    monkeypatch.setenv('BEARCLF_HOME', str(tmp_path/'home'))
    dest = get_bears()
    (dest/'grizzly'/'cut.jpg').write_bytes(truncated_jpeg('cut'))  # what an interrupted run can leave
    assert get_bears() == dest
    assert not (dest/'grizzly'/'cut.jpg').exists()
    assert 'truncated' in dict(rejected(dest))['grizzly/cut.jpg']

def test_a_copy_cut_short_is_copied_again_whole(tmp_path, monkeypatch):
    src, dest = tmp_path/'src', tmp_path/'dest'
    make_bear_folder(src)
    real_copy, copies = shutil.copy2, []
    def copy_then_fail(a, b):
        copies.append(a)
        if len(copies) == 3:  # the disk fills up half-way through the third photo
            Path(b).write_bytes(Path(a).read_bytes()[:100])
            raise OSError(28, 'No space left on device')
        return real_copy(a, b)
    monkeypatch.setattr(gather.shutil, 'copy2', copy_then_fail)
    with pytest.raises(OSError, match='No space left'): gather_folder(src, dest)
    monkeypatch.setattr(gather.shutil, 'copy2', real_copy)
    gather_folder(src, dest)
    assert not [p for p in dest.rglob('*.part')], 'no temporary file left'
    assert sorted(photo_name(p) for p in dest.glob('[!.]*/*')) == ['black/one.jpg', 'black/two.png', 'grizzly/big.jpg',
                                                                   'grizzly/unique.jpg']
    for p in dest.glob('[!.]*/*'): assert p.read_bytes() == (src/p.relative_to(dest)).read_bytes(), p
    assert not [why for _,why in rejected(dest) if 'truncated' in why]

@pytest.mark.time_limit(120)
def test_bearclf_gather_from_a_folder_after_an_interrupted_one(tmp_path):
    "From a terminal: exit 0, one line of output, and the cut-off photo in quarantine"
    src, dest = tmp_path/'src', tmp_path/'bears'
    make_bear_folder(src)
    env = {**os.environ, 'BEARCLF_HOME': str(tmp_path/'home')}
    env.pop('BEARCLF_DATA', None)
    def bearclf_gather():
        return subprocess.run([sys.executable, '-c', 'import sys; from bearclf.cli import main; sys.exit(main())',
                               'gather', '--from', str(src), '--out', str(dest)],
                              capture_output=True, text=True, encoding='utf-8', env=env, timeout=100)
    first = bearclf_gather()
    assert first.returncode == 0, first.stderr
    (dest/'grizzly'/'cut.jpg').write_bytes(truncated_jpeg('cut'))
    again = bearclf_gather()
    assert (again.returncode, again.stdout.splitlines()[-1:], again.stderr) == (0, [f'photos in {dest}'], ''), again
    assert 'truncated' in dict(rejected(dest))['grizzly/cut.jpg']

ENCODING_SCRIPT = """
import os, sys, warnings
from pathlib import Path
from bearclf.gather import gather_folder, gather_search
warnings.simplefilter('error', EncodingWarning)  # from here on: a text file opened without an encoding is an error
src, dest, web = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
gather_folder(src, dest)
(dest/'grizzly'/'cut.jpg').write_bytes((src/'grizzly'/'big.jpg').read_bytes()[:300])
gather_folder(src, dest)
gather_search(web, labels=('grizzly', 'black'), max_images=10, backend='bing', progress=False)
gather_search(web, labels=('grizzly', 'black'), max_images=10, backend='bing', progress=False)
"""

@pytest.mark.time_limit(120)
def test_gather_reads_and_writes_its_files_as_utf8_whatever_the_locale(web, monkeypatch, tmp_path):
    "With `-X warn_default_encoding`, Python warns of every text file opened in the locale's encoding"
    use_api(monkeypatch, web, 'bing')
    web.search_results = bear_search_results(web)
    src = tmp_path/'src'
    make_bear_folder(src)
    env = {**os.environ, 'BEARCLF_HOME': str(tmp_path/'home')}
    res = subprocess.run([sys.executable, '-X', 'warn_default_encoding', '-c', ENCODING_SCRIPT, str(src),
                          str(tmp_path/'dest'), str(tmp_path/'web')],
                         capture_output=True, text=True, encoding='utf-8', env=env, timeout=100)
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(rejected(tmp_path/'dest')) == 4 and len(rejected(tmp_path/'web')) == 0

def test_a_heic_phone_photo_is_gathered_not_rejected(tmp_path):
    "gather decodes with the loader training uses, which reads HEIC through pillow-heif (the photo an iPhone takes)"
    import pillow_heif
    src = tmp_path/'src'
    make_bear_folder(src)
    buf = io.BytesIO()
    pillow_heif.from_pillow(photo('F', size=(256, 192))).save(buf)
    (src/'grizzly'/'phone.heic').write_bytes(buf.getvalue())
    dest = gather_folder(src, tmp_path/'dest')
    assert [row for row in rejected(dest) if 'phone' in row[0]] == []
    assert (dest/'grizzly'/'phone.heic').read_bytes() == buf.getvalue()
