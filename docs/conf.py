"""Sphinx configuration of the pyg_mmrec documentation.

Build with warnings as errors (from the repository root)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document the working tree even without an editable install

import pyg_mmrec  # noqa: E402

project = 'pyg_mmrec'
author = 'pyg_mmrec developers'
copyright = '2025, pyg_mmrec developers'
version = pyg_mmrec.__version__
release = pyg_mmrec.__version__

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.mathjax',
    'sphinx.ext.viewcode',
]

# Sources: the .rst pages only. _generated/ holds fragments included by the pages.
source_suffix = {'.rst': 'restructuredtext'}
exclude_patterns = ['_build', '_generated', 'Thumbs.db', '.DS_Store']
nitpicky = False

# autodoc: the API pages name the members they show, in source order. Constructor arguments
# are documented in the class docstring (PyG style), so the class docstring alone is shown.
# Docstrings are not inherited, so that overridden hooks (forward, message, ...) do not repeat
# torch's or PyG's generic text.
autodoc_member_order = 'bysource'
autoclass_content = 'class'
autodoc_typehints = 'signature'
autodoc_inherit_docstrings = False
autodoc_default_options = {}

# napoleon: Google style only. "Shapes:" (PyG's section for tensor shapes) renders as a
# generic section.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_custom_sections = ['Shapes']

html_theme = 'furo'
html_title = f'pyg_mmrec {release}'
pygments_style = 'sphinx'
pygments_dark_style = 'monokai'


# ---------------------------------------------------------------------------------------------
# Benchmark results: the scripts in benchmarks/ write Markdown reports to benchmarks/results/
# (which may not exist yet) and figures to docs/_static/. For each report, the build writes
# _generated/<name>.rst: its pipe tables as list-tables and its text as paragraphs, or a note
# when the report is missing.
# ---------------------------------------------------------------------------------------------
html_static_path = ['_static']
(DOCS / '_static').mkdir(exist_ok=True)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding='utf-8') != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding='utf-8')


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip('|').split('|')]


def _markdown_to_rst(markdown: str) -> str:
    """Converts the subset of Markdown the benchmark reports use (headings, paragraphs, pipe
    tables) to reStructuredText; the report's first heading is dropped (the page has one)."""
    out, lines, i = [], markdown.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith('# '):
            i += 1
            continue
        if line.startswith('## '):
            title = line[3:].strip()
            out += [title, '~' * len(title), '']
        elif line.startswith('|'):
            rows = []
            while i < len(lines) and lines[i].startswith('|'):
                if not set(lines[i]) <= set('|-: '):
                    rows.append(_cells(lines[i]))
                i += 1
            out += ['.. list-table::', '   :header-rows: 1', '']
            for row in rows:
                out += [f'   * - {row[0]}'] + [f'     - {cell}' for cell in row[1:]]
            out.append('')
            continue
        else:
            out.append(line)
        i += 1
    return '\n'.join(out) + '\n'


def _benchmark_fragment(name: str) -> str:
    results = ROOT / 'benchmarks' / 'results' / f'{name}.md'
    if not results.is_file():
        return ('.. note::\n\n'
                f'   No results were found when these pages were built\n'
                f'   (``benchmarks/results/{name}.md`` does not exist yet). Run\n'
                f'   ``python benchmarks/{name}.py`` and rebuild the documentation.\n')
    text = _markdown_to_rst(results.read_text(encoding='utf-8'))
    # The report's figures are <name>_*.png, except those of a report whose name extends it
    # (dvib_ml-100k_recall.png belongs to dvib_ml-100k, not to dvib).
    longer = [other for other in REPORTS if other.startswith(f'{name}_')]
    for figure in sorted((DOCS / '_static').glob(f'{name}_*.png')):
        if not any(figure.stem.startswith(f'{other}_') for other in longer):
            text += f'\n.. image:: /_static/{figure.name}\n   :width: 100%\n'
    return text


REPORTS = ('foundation', 'knn_graph', 'backbones', 'bm3_reference', 'drowned_content', 'ibmrec',
           'dvib', 'dvib_ml-100k', 'plugin_cost', 'hidden_scale', 'robust', 'msi', 'cold_start',
           'concurrency', 'speed', 'speed_reference', 'speed_mmrec')
for _name in REPORTS:
    _write_if_changed(DOCS / '_generated' / f'{_name}.rst', _benchmark_fragment(_name))

# The Benchmarks page leads with the README's summary table (generated from the reports and
# checked by the test suite), so both show the same numbers.
_summary = re.search(r'<!-- results:summary -->\n(.*?)<!-- /results:summary -->',
                     (ROOT / 'README.md').read_text(encoding='utf-8'), re.DOTALL)
_write_if_changed(DOCS / '_generated' / 'summary.rst', _markdown_to_rst(_summary.group(1)))
