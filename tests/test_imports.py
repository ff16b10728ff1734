"""The model and layer modules import with nothing but PyTorch and NumPy installed.

A fresh interpreter runs without site-packages (`python -I -S`); its path holds the repository and a folder of links to
torch, numpy and the packages torch itself requires (found from their metadata), and nothing else. Every model and
layer module must import there; fastcore, lightning, matplotlib and the rest must not be importable at all.
"""
import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# every module a user needs to build and run models: the core, the models and their configs, the task registry
MODEL_MODULES = ['sgconv', 'sgconv.utils', 'sgconv.ssm', 'sgconv.kernel', 'sgconv.analysis', 'sgconv.fftconv', 'sgconv.layer',
                 'sgconv.blocks', 'sgconv.mixers', 'sgconv.optim', 'sgconv.models', 'sgconv.data.core', 'sgconv.presets',
                 'sgconv.tasks', 'sgconv.results', 'sgconv.demo']
ABSENT = ['fastcore', 'lightning', 'matplotlib', 'pandas', 'tqdm', 'torchvision', 'torchaudio', 'sklearn', 'nbdev']


def _requirements(dist:str, seen:set)->set:
    "The distribution and, recursively, its unconditional requirements"
    name = re.split(r'[\s<>=!~;\[(]', dist, maxsplit=1)[0].lower().replace('_', '-')
    if name in seen: return seen
    try: d = md.distribution(name)
    except md.PackageNotFoundError: return seen
    seen.add(name)
    for req in d.requires or []:
        if ';' in req and 'extra' in req.split(';', 1)[1]: continue          # optional extras
        if ';' in req:                                                        # platform markers: keep the ones that apply
            from packaging.markers import Marker
            if not Marker(req.split(';', 1)[1]).evaluate(): continue
        _requirements(req, seen)
    return seen


def _top_level(dist:str)->set:
    "Import names a distribution installs (its top-level files and folders)"
    d = md.distribution(dist)
    names = set()
    for f in d.files or []:
        top = f.parts[0]
        if top.endswith('.dist-info') or top.endswith('.data') or top == '..' or top.startswith('__pycache__'): continue
        names.add(top)
    return names


@pytest.fixture(scope='module')
def torch_only(tmp_path_factory):
    "A folder of links to torch, numpy and torch's own requirements: the only packages the subprocess can see"
    site = Path(md.distribution('torch').locate_file(''))
    links = tmp_path_factory.mktemp('torch_only')
    for dist in _requirements('torch', set()) | _requirements('numpy', set()):
        for top in _top_level(dist):
            src = site/top
            if src.exists() and not (links/top).exists(): (links/top).symlink_to(src)
    return links


def _run(code:str, links:Path)->subprocess.CompletedProcess:
    prog = f"import sys; sys.path[:0] = [{str(links)!r}, {str(ROOT)!r}]\n" + code
    return subprocess.run([sys.executable, '-I', '-S', '-c', prog], capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONSTARTUP')})


def test_environment_has_only_torch_and_numpy(torch_only):
    out = _run(f"import importlib.util, json; print(json.dumps({{m: importlib.util.find_spec(m) is not None for m in {ABSENT + ['torch', 'numpy']!r}}}))", torch_only)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found.pop('torch') and found.pop('numpy')
    assert not any(found.values()), f"the subprocess can import {[m for m, v in found.items() if v]}"


@pytest.mark.parametrize('module', MODEL_MODULES)
def test_model_module_imports_with_torch_and_numpy_only(module, torch_only):
    out = _run(f"import {module}; print('ok')", torch_only)
    assert out.returncode == 0 and out.stdout.strip().endswith('ok'), out.stderr[-3000:]


def test_a_model_builds_and_runs_with_torch_and_numpy_only(torch_only):
    code = """
import torch
from sgconv.data.core import TaskInfo
from sgconv.models import build_model, MODELS
from sgconv.blocks import SGConvBlock
for name in MODELS:
    m = build_model(TaskInfo('t', 10, 1, 3, 32), name, d_model=8, n_layers=1)
    assert m(torch.randint(0, 10, (2, 32))).shape == (2, 3)
assert SGConvBlock(8, 64, kernel_dim=4)(torch.randn(2, 64, 8)).shape == (2, 64, 8)
print('ok')"""
    out = _run(code, torch_only)
    assert out.returncode == 0 and out.stdout.strip().endswith('ok'), out.stderr[-3000:]
