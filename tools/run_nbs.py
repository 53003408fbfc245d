"""Run notebooks top to bottom in a Jupyter kernel and save their outputs, skipping the cells `nbdev_test` skips.

    python tools/run_nbs.py nbs/02_data.ipynb [more notebooks...]

Lesson notebooks carry their outputs (the docs site shows them); this is how a maintainer refreshes them.
Cells flagged with a `tst_flags` flag (e.g. `#| internet`) or `#| eval: false` keep the outputs they had.
"""
import sys
from pathlib import Path
import nbformat
from nbconvert.preprocessors import ExecutePreprocessor
from nbdev.config import get_config
from nbdev.process import extract_directives

class SkipFlaggedPreprocessor(ExecutePreprocessor):
    "Execute every code cell but the ones `nbdev_test` would skip"
    flags = set(get_config().tst_flags.split())
    def preprocess_cell(self, cell, resources, index):
        directives = extract_directives(cell, remove=False) if cell.cell_type == 'code' else {}
        if self.flags & directives.keys() or directives.get('eval:', [''])[0].lower() == 'false':
            return cell, resources
        return super().preprocess_cell(cell, resources, index)

def run_nb(fn:Path, timeout:int=3600):
    "Execute `fn` in a fresh kernel, in its own folder, and save it with its outputs; stop at the first error"
    fn = Path(fn)
    nb = nbformat.read(fn, as_version=4)
    SkipFlaggedPreprocessor(timeout=timeout).preprocess(nb, {'metadata': {'path': str(fn.parent)}})
    nbformat.write(nb, fn)

if __name__ == '__main__':
    for fn in sys.argv[1:]:
        print(f'running {fn}', flush=True)
        run_nb(fn)
