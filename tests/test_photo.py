"""`bearclf.photo` is how the light runtime opens and prepares photos: importing it must load neither torch nor fastai,
or every server and Space that runs the exported model would carry them (about a gigabyte per process)."""
import subprocess, sys
import pytest

HEAVY = ('torch', 'fastai')

def heavy_imports(module:str, cwd)->list: # the names of `HEAVY` in `sys.modules` once `module` is imported
    "Import `module` in a fresh Python, and say which of torch and fastai that loaded"
    code = f"import sys, {module}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    # in `cwd`, not the clone: `python -c` imports from the folder it runs in first, and bearclf should be the installed one
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, encoding='utf-8', timeout=110,
                       cwd=cwd)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout.split()

def test_the_photo_module_imports_neither_torch_nor_fastai(tmp_path):
    assert heavy_imports('bearclf.photo', tmp_path) == []

@pytest.mark.time_limit(120)
def test_the_check_sees_a_module_that_imports_them(tmp_path):
    "`bearclf.data` is fastai's side of the photos: the same check must find both there"
    assert heavy_imports('bearclf.data', tmp_path) == list(HEAVY)
