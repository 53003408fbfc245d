"""The docs site: `bearclf docs` builds it, then headless Chromium opens every page in the sidebar.

Every page must load, every picture on it must be there (a lesson's saved plots, the app's screenshot),
and every link inside the site must lead to a page that exists and, for `page.html#name` links such as
nbdev's links to the API reference, to an element with that id. And `bearclf docs` typed in another nbdev project
refuses to build there, leaving that project's `_docs/` alone.
"""
import re, subprocess, threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urlparse
import pytest, yaml
from nbdev.config import get_config

REPO = Path(__file__).parents[1]

def sidebar_pages()->list:
    "The site's pages in sidebar order, named as Quarto names them (`course/05_train.ipynb` -> `course/train.html`)"
    def walk(items):
        for item in items:
            if isinstance(item, dict): yield from walk(item.get('contents', []))
            else: yield str(Path(item).with_name(re.sub(r'^\d+[a-z]?_', '', Path(item).stem) + '.html'))
    return list(walk(yaml.safe_load((REPO/'nbs'/'sidebar.yml').read_text(encoding='utf-8'))['website']['sidebar']['contents']))

class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass

@pytest.fixture(scope='module')
def site():
    "The site built by `bearclf docs`, served on 127.0.0.1"
    build = subprocess.run(['bearclf', 'docs'], cwd=REPO, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    server = ThreadingHTTPServer(('127.0.0.1', 0), partial(QuietHandler, directory=REPO/'_docs'))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_address[1]}/'
    server.shutdown()

@pytest.mark.time_limit(180)
def test_every_page_image_and_link(browser, site):
    pages, ids, links, problems = sidebar_pages(), {}, set(), []
    assert pages[0] == 'index.html' and 'course/train.html' in pages and 'api/train.html' in pages
    page = browser.new_page()
    try:
        page.goto(site + 'index.html')
        sections = page.eval_on_selector_all('#quarto-sidebar li.sidebar-item-section', """els => els.map(e => [
            e.querySelector('.menu-text').textContent,
            [...e.querySelectorAll('ul a.sidebar-link[href]')].map(a => a.getAttribute('href'))])""")
        assert [title for title, _ in sections] == ['The course', 'Reference'], sections
        (_, lessons), (_, reference) = sections
        assert lessons and all(href.startswith('course/') for href in lessons), lessons
        assert reference and all(href.startswith('api/') for href in reference), reference
        for name in pages:
            response = page.goto(site + name)
            if not response.ok: problems.append(f'{name}: HTTP {response.status}'); continue
            page.wait_for_load_state('load')
            images = page.eval_on_selector_all('main img', 'els => els.map(e => [e.getAttribute("src"), e.complete && e.naturalWidth > 0])')
            problems += [f'{name}: image {src} is missing' for src, ok in images if not ok]
            if name in ('index.html', 'course/gather.html', 'course/train.html', 'course/interpret.html', 'course/clean.html',
                        'course/app.html', 'course/avoid_disaster.html'):
                if not images: problems.append(f'{name}: no pictures at all')
            if name == 'course/questionnaire.html':  # answers start collapsed, and most point into the lessons
                answers = page.eval_on_selector_all('main details', 'els => els.map(e => [e.open, e.querySelectorAll("a").length])')
                if len(answers) < 27 or any(is_open for is_open, _ in answers): problems.append(f'{name}: {len(answers)} answers, some open')
                if sum(n > 0 for _, n in answers) < len(answers) // 2: problems.append(f'{name}: most answers link nowhere')
            ids[name] = set(page.eval_on_selector_all('[id]', 'els => els.map(e => e.id)'))
            links |= {(name, href) for href in page.eval_on_selector_all('a[href]', 'els => els.map(e => e.href)')}
    finally: page.close()
    cfg = get_config(path=REPO)
    published = f'{cfg.doc_host}{cfg.doc_baseurl}'
    for source, href in sorted(links):
        url, anchor = urldefrag(href)
        if url.startswith(published): problems.append(f'{source}: link to the published site instead of this one: {href}')
        if not url.startswith(site): continue  # outside the site: not ours to check offline
        target = urlparse(url).path.lstrip('/') or 'index.html'
        if not (REPO/'_docs'/target).exists(): problems.append(f'{source}: link to missing {target}')
        elif anchor and target in ids and anchor not in ids[target]: problems.append(f'{source}: link to {target}#{anchor}, which has no such id')
    assert not problems, '\n'.join(problems)
    assert len({h for _, h in links if h.startswith(site)}) > 50  # the check saw the site's links, not an empty page

@pytest.mark.time_limit(60)
def test_bearclf_docs_in_another_nbdev_project_deletes_nothing(tmp_path):
    "A whole nbdev project of someone else's, with its built site: `bearclf docs` there must refuse, and touch nothing"
    import nbformat
    (tmp_path/'nbs').mkdir(); (tmp_path/'_docs').mkdir()
    (tmp_path/'settings.ini').write_text('[DEFAULT]\nrepo = theirs\nlib_name = theirs\nlib_path = theirs\nnbs_path = nbs\n'
        'doc_path = _docs\nversion = 0.0.1\nuser = someone\nbranch = main\ngit_url = https://github.com/someone/theirs\n'
        'doc_host = https://someone.github.io\ndoc_baseurl = /theirs\ntitle = theirs\n', encoding='utf-8')
    (tmp_path/'nbs'/'_quarto.yml').write_text('project:\n  type: website\nwebsite:\n  title: theirs\n', encoding='utf-8')
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# Theirs\n\n> their project')]),
                   tmp_path/'nbs'/'index.ipynb')
    (tmp_path/'_docs'/'index.html').write_text('<h1>their site</h1>', encoding='utf-8')
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob('*'))
    done = subprocess.run(['bearclf', 'docs'], cwd=tmp_path/'nbs', capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (1, ''), done
    assert done.stderr == (f"bearclf docs: error: bearclf docs builds bearclf's own site, but {tmp_path}/settings.ini holds "
                           f"the settings of project 'theirs': it would replace {tmp_path}/_docs; build that project's site with nbdev_docs\n")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob('*')) == before  # no _proc/ made, nothing gone
    assert (tmp_path/'_docs'/'index.html').read_text(encoding='utf-8') == '<h1>their site</h1>'
