"""Run notebooks top to bottom in a Jupyter kernel and save their outputs, skipping the cells `nbdev_test` skips.

    python tools/run_nbs.py nbs/course/03_data.ipynb [more notebooks...]

Lesson notebooks carry their outputs (the docs site shows them); this is how a maintainer refreshes them.
Cells flagged with a `tst_flags` flag (e.g. `#| internet`) or `#| eval: false` keep the outputs they had.
What fastprogress leaves behind once a bar has finished (an empty `<div></div>`, the bars' stylesheet) is not saved:
it shows nothing, and `tests/test_notebooks.py` checks no notebook keeps it. Nor is the state of widgets that no
saved output displays (a widget built and used inside a cell leaves hundreds of kilobytes of it in the metadata).
"""
import re, subprocess, sys
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

_SHOWS_NOTHING = re.compile(r'\s*(<div>\s*</div>|<style>\s*progress\b[^<]*</style>)?\s*', re.S)

def shows_something(output)->bool:
    "False for a finished progress bar's leftovers: HTML that renders as nothing"
    html = output.get('data', {}).get('text/html')
    if output.get('output_type') != 'display_data' or html is None: return True
    return not _SHOWS_NOTHING.fullmatch(''.join(html))

def shows_widgets(nb)->bool:
    "Whether any saved output of `nb` displays a widget (whose state the notebook's metadata must then keep)"
    return any('application/vnd.jupyter.widget-view+json' in o.get('data', {})
               for c in nb.cells if c.cell_type == 'code' for o in c.outputs)

def run_nb(fn:Path, timeout:int=3600):
    "Execute `fn` in a fresh kernel, in its own folder, and save it, cleaned, with its outputs; stop at the first error"
    fn = Path(fn)
    nb = nbformat.read(fn, as_version=4)
    SkipFlaggedPreprocessor(timeout=timeout).preprocess(nb, {'metadata': {'path': str(fn.parent)}})
    for cell in nb.cells:
        if cell.cell_type == 'code': cell.outputs = [o for o in cell.outputs if shows_something(o)]
    if not shows_widgets(nb): nb.metadata.pop('widgets', None)  # the state of widgets no output displays
    nbformat.write(nb, fn)
    subprocess.run(['nbdev_clean', '--fname', str(fn)], check=True)  # saved as it is committed (what CI checks)

if __name__ == '__main__':
    for fn in sys.argv[1:]:
        print(f'running {fn}', flush=True)
        run_nb(fn)
