"""CI itself: GitHub's workflows install and test as `.ci/run` does, on the Python `settings.ini` names, and build the
docs as `bearclf docs` does; and what a test needs from outside the clone (the course's photos) fails it under CI rather
than letting it skip, so a run that checked nothing can't pass."""
import configparser, os, re, shutil, subprocess, sys
from pathlib import Path
import pytest, yaml

REPO = Path(__file__).parents[1]
WORKFLOWS = REPO/'.github'/'workflows'

def settings()->configparser.SectionProxy:
    cfg = configparser.ConfigParser(); cfg.read(REPO/'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']

def workflow(name:str)->dict: return yaml.safe_load((WORKFLOWS/name).read_text(encoding='utf-8'))

def steps(name:str)->list: return [s for job in workflow(name)['jobs'].values() for s in job.get('steps', [])]

def uses(step:dict)->str: return step.get('uses', '').split('@')[0]

@pytest.mark.parametrize('name', ['test.yaml', 'deploy.yaml'])
def test_workflows_run_on_the_python_settings_ini_names(name):
    "The Python CI runs on is the oldest the package says it supports (`min_python`, which setup.py passes to pip)"
    pythons = [s['with']['python-version'] for s in steps(name) if uses(s) == 'actions/setup-python']
    assert pythons == [settings()['min_python']], (name, pythons, settings()['min_python'])

def test_binder_runs_the_same_python():
    "The course on Binder (`binder/runtime.txt`) runs on the Python CI checks"
    assert (REPO/'binder'/'runtime.txt').read_text(encoding='utf-8').strip() == f"python-{settings()['min_python']}"

def test_pyproject_requires_the_same_python():
    "pyproject.toml repeats min_python for tools that read only it (pip reads both): the two must agree"
    requires = re.search(r'(?m)^requires-python\s*=\s*"([^"]+)"', (REPO/'pyproject.toml').read_text(encoding='utf-8'))
    assert requires and requires.group(1) == f">={settings()['min_python']}", requires

def test_the_test_workflow_runs_ci_run_beside_the_photos():
    "`.ci/run` as it is, from a clone in `bearclf/` with the gathered photos in `shared/data` beside it"
    test_steps = steps('test.yaml')
    assert not [s for s in test_steps if uses(s).startswith('fastai/workflows')]  # the stock nbdev-ci installs its own nbdev
    clone = next(s['with']['path'] for s in test_steps if uses(s) == 'actions/checkout')
    assert [s['run'] for s in test_steps if f'{clone}/.ci/run' in s.get('run', '')] == [f'bash {clone}/.ci/run']
    runs = ' '.join(s.get('run', '') for s in test_steps)
    assert 'bearclf gather' in runs and 'not_bear_photos()' in runs  # the photos the tests and lessons read
    cached = {s['with']['path'] for s in test_steps if uses(s) in ('actions/cache/restore', 'actions/cache/save')}
    assert cached == {'shared/data'}, cached
    assert "BEARCLF_DATA=\"${BEARCLF_DATA:-$(cd ../shared/data/bears && pwd)}\"" in (REPO/'.ci'/'run').read_text(encoding='utf-8')
    gather = next(s for s in test_steps if 'bearclf gather' in s.get('run', ''))
    assert gather['env']['BEARCLF_HOME'] == '${{ github.workspace }}/shared/data'  # bearclf gather fills <home>/bears
    assert '::error ' in gather['run']  # a refused search is said in the run's summary

def test_the_deploy_workflow_publishes_what_bearclf_docs_builds():
    deploy_steps = steps('deploy.yaml')
    assert [uses(s) for s in deploy_steps if uses(s)] == ['actions/checkout', 'actions/setup-python',
        'actions/upload-pages-artifact', 'actions/deploy-pages']  # no quarto-ghp: this project has no Quarto
    assert [line.strip() for s in deploy_steps for line in s.get('run', '').splitlines() if 'docs' in line] == ['bearclf docs']
    artifact = next(s for s in deploy_steps if uses(s) == 'actions/upload-pages-artifact')
    assert artifact['with']['path'] == settings()['doc_path']

def test_installs_match_ci_run():
    "Where a workflow installs for itself (to build the docs), it installs as `.ci/run` does"
    ci_run = (REPO/'.ci'/'run').read_text(encoding='utf-8')
    install = next(s['run'] for s in steps('deploy.yaml') if 'pip install -e' in s.get('run', ''))
    for line in ('pip install -q -U pip', 'pip install -e ".[dev]"', 'python -c "import torchvision.ops"'):
        assert line in ci_run and line in install, line

# --- Tests that need the course's photos -------------------------------------------------------------------------

NEEDS_PHOTOS = "def test_needs_photos(shared_data): assert (shared_data/'bears').is_dir()\n"

def run_pytest_without_photos(tmp_path:Path, ci:bool)->subprocess.CompletedProcess:
    "Run one test that asks for `shared_data`, with this conftest.py, in a clone that has no `../shared` beside it"
    (tmp_path/'clone'/'tests').mkdir(parents=True)
    shutil.copy(REPO/'tests'/'conftest.py', tmp_path/'clone'/'tests')
    (tmp_path/'clone'/'tests'/'test_it.py').write_text(NEEDS_PHOTOS, encoding='utf-8')
    env = {k: v for k, v in os.environ.items() if k != 'CI'} | (dict(CI='true') if ci else {})
    return subprocess.run([sys.executable, '-m', 'pytest', '-q', '-rs', '-p', 'no:cacheprovider', 'tests'], cwd=tmp_path/'clone',
                          env=env, capture_output=True, text=True, timeout=60)

def test_missing_photos_fail_under_ci(tmp_path):
    done = run_pytest_without_photos(tmp_path, ci=True)
    assert done.returncode == 1 and '1 error' in done.stdout, done.stdout
    assert f"no photos in {tmp_path}/shared/data/bears/grizzly" in done.stdout and 'required under CI' in done.stdout, done.stdout

def test_missing_photos_skip_elsewhere(tmp_path):
    done = run_pytest_without_photos(tmp_path, ci=False)
    assert done.returncode == 0 and '1 skipped' in done.stdout, done.stdout

def test_every_test_gets_the_photos_from_the_fixture():
    "A test file that finds `../shared` by itself would skip (or pass) without it, whatever CI says: use `shared_data`"
    own_paths = [fn.name for fn in sorted((REPO/'tests').glob('test_*.py'))
                 if re.search(r"""['"]shared['"]""", fn.read_text(encoding='utf-8'))]
    assert not own_paths, own_paths
