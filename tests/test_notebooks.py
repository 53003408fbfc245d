"""The notebooks as the docs site shows them: the saved outputs are what readers see, so none may carry a warning, a
traceback, fastai's insecure-pickle notice, a progress bar's empty leftovers or a numpy scalar's repr; and the two
kinds of notebooks stay apart: lessons (`nbs/course/`, the sidebar's course) export nothing, and every reference
notebook (`nbs/api/`) is one module of the package. And no notebook or test checks a condition with
`test_eq(cond, True)`, which reports only that `False` is not `True`, never the values that made it so."""
import ast, re
from pathlib import Path
import nbformat, pytest, yaml
from nbdev.process import extract_directives

NBS = Path(__file__).parents[1]/'nbs'
NOTEBOOKS = sorted(p for p in NBS.rglob('*.ipynb') if not any(part.startswith(('_', '.')) for part in p.parts))
LESSONS = sorted((NBS/'course').glob('*.ipynb'))
REFERENCE = sorted((NBS/'api').glob('*.ipynb'))

NOISE = re.compile(r'Warning|Traceback|insecure pickle')
NUMPY_REPR = re.compile(r'\bnp\.(?:int|float|uint|bool_?)\w*\(')
LEFTOVER_HTML = re.compile(r'\s*(<div>\s*</div>)?\s*|.*<progress\b.*', re.S)  # an empty or unfinished progress bar

def code_cells(fn:Path)->list: return [c for c in nbformat.read(fn, as_version=4).cells if c.cell_type == 'code']

def output_problems(output)->list:
    "What is wrong with one saved output, as readers would see it"
    if output.output_type == 'error': return [f'an error: {output.ename}']
    texts = [output.get('text', '')] + [v for k, v in output.get('data', {}).items() if k.startswith('text/')]
    problems = [f'"{m.group(0)}" in its text' for t in texts for m in [NOISE.search(t)] if m]
    plain = output.get('data', {}).get('text/plain', '')
    if NUMPY_REPR.search(plain): problems.append(f'a numpy repr: {plain[:60]!r}')
    html = output.get('data', {}).get('text/html')
    if html is not None and LEFTOVER_HTML.fullmatch(html): problems.append(f'progress-bar leftovers: {html[:60]!r}')
    if output.get('name') == 'stderr' and output.text.strip(): problems.append(f'stderr: {output.text[:80]!r}')
    return problems

def test_the_checks_catch_what_they_are_for():
    out = nbformat.v4.new_output
    assert output_problems(out('stream', name='stderr', text='UserWarning: load_learner` uses insecure pickle'))
    assert output_problems(out('error', ename='ValueError', evalue='', traceback=[]))
    assert output_problems(out('execute_result', data={'text/plain': 'np.int64(3)'}))
    assert output_problems(out('display_data', data={'text/html': '<div></div>', 'text/plain': '<HTML>'}))
    assert output_problems(out('display_data', data={'text/html': "<progress value='0' max='4'></progress>"}))
    assert not output_problems(out('display_data', data={'text/html': '<table class="fastprogress"></table>'}))
    assert not output_problems(out('stream', name='stdout', text='accuracy 98.9%'))

@pytest.mark.parametrize('fn', NOTEBOOKS, ids=lambda p: str(p.relative_to(NBS)))
def test_saved_outputs_are_clean(fn):
    problems = [f'code cell {i}: {p}' for i, cell in enumerate(code_cells(fn)) for o in cell.outputs
                for p in output_problems(o)]
    assert not problems, '\n'.join(problems)

def test_lessons_are_the_sidebars_course():
    sidebar = yaml.safe_load((NBS/'sidebar.yml').read_text(encoding='utf-8'))['website']['sidebar']['contents']
    sections = {item['section']: item['contents'] for item in sidebar if isinstance(item, dict)}
    assert list(sections) == ['The course', 'Reference']
    assert sections['The course'] == [str(p.relative_to(NBS)) for p in LESSONS]
    assert sections['Reference'] == [str(p.relative_to(NBS)) for p in REFERENCE]
    assert len(LESSONS) >= 12

@pytest.mark.parametrize('fn', LESSONS, ids=lambda p: p.name)
def test_a_lesson_exports_nothing(fn):
    directives = [extract_directives(c, remove=False) for c in code_cells(fn)]
    assert not [d for d in directives if {'export', 'exports', 'exporti', 'default_exp'} & d.keys()]

@pytest.mark.parametrize('fn', REFERENCE, ids=lambda p: p.name)
def test_a_reference_notebook_is_one_module(fn):
    directives = [extract_directives(c, remove=False) for c in code_cells(fn)]
    modules = [d['default_exp'][0] for d in directives if 'default_exp' in d]
    assert len(modules) == 1 and re.fullmatch(rf'\d+[a-z]?_{modules[0]}', fn.stem), (fn.name, modules)
    assert any('export' in d for d in directives)

LINK = re.compile(r'\]\(([^)#\s]+)(?:#[^)]*)?\)')

def relative_links(fn:Path)->list:
    "The links in `fn`'s markdown to other files of the repository (not to the web, not to an anchor on the page)"
    cells = [c for c in nbformat.read(fn, as_version=4).cells if c.cell_type == 'markdown']
    return [t for c in cells for t in LINK.findall(c.source) if not re.match(r'\w+:', t)]

def test_the_link_check_sees_links():
    assert 'api/04_train.ipynb' in relative_links(NBS/'index.ipynb')

@pytest.mark.parametrize('fn', NOTEBOOKS, ids=lambda p: str(p.relative_to(NBS)))
def test_links_between_notebooks_lead_somewhere(fn):
    "On GitHub and in Jupyter a notebook's links are read as they are written: each must name a file that exists"
    assert not [t for t in relative_links(fn) if not (fn.parent/t).exists()]

TESTS = sorted((NBS.parent/'tests').glob('*.py'))

def bool_test_eqs(source:str)->list: # where the calls are: `'line 3'`...
    "The `test_eq(x, True)` and `test_eq(x, False)` calls in Python `source` (either argument a bare `True` or `False`)"
    # IPython's `%magic` and `!shell` lines aren't Python: blank them, keeping the line numbers
    source = re.sub(r'(?m)^\s*[%!].*$', '', source)
    try: tree = ast.parse(source)
    except SyntaxError as e: return [f'line {e.lineno}: not Python, so not checked ({e.msg})']
    def named_test_eq(f): return isinstance(f, ast.Name) and f.id == 'test_eq' or isinstance(f, ast.Attribute) and f.attr == 'test_eq'
    return [f'line {node.lineno}' for node in ast.walk(tree) if isinstance(node, ast.Call) and named_test_eq(node.func)
            and any(isinstance(a, ast.Constant) and isinstance(a.value, bool) for a in node.args)]

def test_the_bool_test_eq_check_sees_them():
    assert bool_test_eqs('test_eq(x > 3, True)\ntest_eq(ok,\n        False)\n%time test_eq(f(), 2)') == ['line 1', 'line 2']
    assert bool_test_eqs('test_eq(x, 3)\ntest_eq((n, ok), (6, True))\nassert x > 3, x\nfastcore.test.test_eq(a, True)') == ['line 4']

@pytest.mark.parametrize('fn', NOTEBOOKS + TESTS, ids=lambda p: str(p.relative_to(NBS.parent)))
def test_no_test_eq_against_true_or_false(fn):
    "Assert on the values instead: `test_eq(x, expected)`, or `assert x < y, (x, y)`, which shows them when it fails"
    if fn.suffix == '.py': found = {'': bool_test_eqs(fn.read_text(encoding='utf-8'))}
    else: found = {f'code cell {i}, ': bool_test_eqs(c.source) for i, c in enumerate(code_cells(fn))}
    problems = [where + line for where, lines in found.items() for line in lines]
    assert not problems, f'test_eq(..., True/False) in {fn.name}: ' + '; '.join(problems)
