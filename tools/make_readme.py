"""Write README.md from nbs/index.ipynb (what `nbdev_readme` does, without needing Quarto).

    python tools/make_readme.py

Hidden cells (`#| hide`) are left out, code cells become fenced Python, and relative links (the lessons,
the app's screenshot) point into `nbs/` so they work on GitHub. `.ci/run` checks README.md is up to date.
"""
import re
from pathlib import Path
import nbformat
from nbdev.config import get_config
from nbdev.process import extract_directives

def readme_text(nb_path:Path)->str:
    "README markdown for the notebook at `nb_path`"
    parts = []
    for cell in nbformat.read(nb_path, as_version=4).cells:
        if cell.cell_type == 'code':
            if 'hide' in extract_directives(cell, remove=False): continue
            parts.append(f"```python\n{cell.source}\n```")
        else: parts.append(re.sub(r'\]\((?!\w+:|#|/)([^)]+)\)', r'](nbs/\1)', cell.source))
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    cfg = get_config()
    (cfg.config_path/'README.md').write_text(readme_text(cfg.config_path/cfg.nbs_path/cfg.readme_nb), encoding='utf-8')
