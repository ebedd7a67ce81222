"""The benchmark scripts: independent of each other, and each report rebuilds from its record."""
import ast
import runpy
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / 'benchmarks').glob('*.py'))
RESULTS = ROOT / 'benchmarks' / 'results'
# Report stem -> (script, extra arguments of its --report-only run).
REPORTS = {
    'backbones': ('backbones', []),
    'bm3_reference': ('bm3_reference', []),
    'cold_start': ('cold_start', []),
    'drowned_content': ('drowned_content', []),
    'dvib': ('dvib', []),
    'dvib_ml-100k': ('dvib', ['--data', 'ml-100k']),
    'dvib_cost': ('dvib_cost', []),
    'foundation': ('foundation', []),
    'hidden_scale': ('hidden_scale', []),
    'ibmrec': ('ibmrec', []),
    'knn_graph': ('knn_graph', []),
    'msi': ('msi', []),
    'robust': ('robust', []),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding='utf-8'))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    names |= {node.module for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    return {name.split('.')[0] for name in names}


def test_no_script_imports_another():
    stems = {p.stem for p in SCRIPTS}
    assert {p.name: imported_modules(p) & stems for p in SCRIPTS} == {p.name: set()
                                                                       for p in SCRIPTS}


def test_every_report_has_a_rebuild():
    assert set(REPORTS) == {p.stem for p in RESULTS.glob('*.json')}


@pytest.mark.parametrize('stem', sorted(REPORTS))
def test_report_rebuilds_from_its_record(stem, tmp_path, monkeypatch, capsys):
    script, extra = REPORTS[stem]
    if script in ('ibmrec', 'dvib', 'cold_start'):  # their report-only runs redraw the
        pytest.importorskip('matplotlib')  # figures that need no logs
    if script in ('ibmrec', 'cold_start'):
        extra = [*extra, '--static', str(tmp_path / 'static')]
    shutil.copy(RESULTS / f'{stem}.json', tmp_path)
    monkeypatch.setattr(sys, 'argv', [script, '--report-only', '--out', str(tmp_path), *extra])
    runpy.run_path(str(ROOT / 'benchmarks' / f'{script}.py'), run_name='__main__')
    for suffix in ('.md', '.json'):
        rebuilt = (tmp_path / f'{stem}{suffix}').read_bytes()
        assert rebuilt == (RESULTS / f'{stem}{suffix}').read_bytes(), f'{stem}{suffix}'
    assert not (tmp_path / 'runs').exists()  # nothing was trained
