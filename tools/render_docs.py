#!/usr/bin/env python
"""Render the documentation offline, without Quarto.

nbdev renders its site with Quarto, which cannot be installed on machines without internet access. This
script does the same preprocessing as `nbdev_docs` (nbdev's notebook processors: front matter, `show_doc`
execution, hidden cells removed, directives stripped) with `nbdev.serve.proc_nbs`, then turns each
processed notebook into a standalone HTML page with nbconvert, with equations typeset by a local MathJax
(from the npm registry) and a sidebar built from nbdev's `sidebar.yml`. Optionally it takes a PNG
screenshot of every page with headless Chromium so a person can look at them.

    python tools/render_docs.py [--out _docs_offline] [--screenshots]
"""
import argparse, html, json, os, re, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MATHJAX_CACHE = ROOT/'.cache'/'mathjax'
MATHJAX_CONFIG = ("<script>window.MathJax = {tex: {inlineMath: [['$','$'], ['\\\\(','\\\\)']], "
                  "displayMath: [['$$','$$'], ['\\\\[','\\\\]']], processEscapes: true}};</script>")


def mathjax_dir():
    "The MathJax 3 es5 folder, installed once from the npm registry into .cache/mathjax"
    es5 = MATHJAX_CACHE/'node_modules'/'mathjax'/'es5'
    if not (es5/'tex-chtml.js').exists():
        print('installing MathJax 3 from the npm registry into .cache/mathjax ...')
        subprocess.run(['npm', 'install', '--silent', '--no-audit', '--no-fund', '--prefix', str(MATHJAX_CACHE), 'mathjax@3'], check=True)
    return es5


def process_notebooks():
    "nbdev's own preprocessing into _proc/ (what Quarto would render)"
    os.chdir(ROOT)
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
    from nbdev.serve import proc_nbs
    from nbdev.doclinks import _build_modidx
    refresh_quarto_yml()
    _build_modidx()
    nbdev_sidebar.__wrapped__()
    return proc_nbs(force=True, n_workers=0)


def page_title(nb_path):
    "Title from the processed notebook's front matter (raw YAML cell) or first heading"
    nb = json.loads(Path(nb_path).read_text())
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'raw' and 'title' in front_matter(src): return str(front_matter(src)['title'])
        m = re.search(r'^#\s+(.+)$', src, re.M) if c['cell_type'] == 'markdown' else None
        if m: return m.group(1)
    return Path(nb_path).stem


def front_matter(src):
    "The YAML front matter of a raw cell as a dict (empty if none)"
    import yaml
    m = re.match(r'^---\s*\n(.*?)\n---', src.strip() + '\n', re.S)
    try: return (yaml.safe_load(m.group(1)) or {}) if m else {}
    except yaml.YAMLError: return {}


def quarto_like(nb):
    "Apply what Quarto would: front matter as title, `echo: false` hides code, `output: asis` markdown, no directives"
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'raw':
            fm = front_matter(src)
            if 'title' in fm:
                c['cell_type'] = 'markdown'; c.pop('outputs', None); c.pop('execution_count', None)
                c['source'] = f"# {fm['title']}\n\n" + (f"<div class='description'>{fm['description']}</div>\n" if fm.get('description') else '')
            continue
        if c['cell_type'] != 'code': continue
        lines = src.splitlines()
        directives = [l for l in lines if l.startswith('#|')]
        c['source'] = '\n'.join(l for l in lines if not l.startswith('#|'))
        if any(re.match(r'#\|\s*echo:\s*false', l) for l in directives):
            c.setdefault('metadata', {}).setdefault('transient', {})['remove_source'] = True
        for o in c.get('outputs', []):
            md = o.get('data', {}).get('text/markdown')
            if md is not None:
                md = ''.join(md) if isinstance(md, list) else md
                o['data']['text/markdown'] = re.sub(r'\{target="_blank"[^}]*\}', '', md)
                o['data'].pop('text/plain', None)
    return nb


def render(out:Path, screenshots:bool, only:list[str]|None=None):
    proc = process_notebooks()
    es5 = mathjax_dir()
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(es5, out/'mathjax')
    shutil.copy(ROOT/'nbs'/'styles.css', out/'styles.css')
    from nbconvert import HTMLExporter
    import nbformat
    nbs = sorted(p for p in proc.glob('*.ipynb'))
    nbs.sort(key=lambda p: (p.stem != 'index', p.stem))
    pages = [(p, 'index.html' if p.stem == 'index' else p.stem + '.html', page_title(p)) for p in nbs]
    nav = '\n'.join(f'<li><a href="{h}">{html.escape(t)}</a></li>' for _, h, t in pages)
    sidebar = (f'<nav style="position:fixed;top:0;left:0;width:230px;height:100%;overflow:auto;padding:1em;'
               f'background:#f7f7f9;border-right:1px solid #ddd;font-family:sans-serif;font-size:14px">'
               f'<b>sgconv</b><ul style="padding-left:1em">{nav}</ul></nav><div style="margin-left:250px">')
    exporter = HTMLExporter(template_name='lab', mathjax_url='mathjax/tex-chtml.js', exclude_input_prompt=True, exclude_output_prompt=True)
    todo = [(p, h, t) for p, h, t in pages if not only or any(p.stem.startswith(o) for o in only)]
    for p, h, t in todo:
        nb = quarto_like(nbformat.read(p, as_version=4))
        body, _ = exporter.from_notebook_node(nb)
        body = body.replace('<script src="mathjax/tex-chtml.js">', MATHJAX_CONFIG + '<script src="mathjax/tex-chtml.js">', 1)
        body = re.sub(r'(<body[^>]*>)', r'\1' + sidebar.replace('\\', '\\\\'), body, count=1).replace('</body>', '</div></body>', 1)
        body = body.replace('<title>Notebook</title>', f'<title>{html.escape(t)} – sgconv</title>')
        (out/h).write_text(body)
        print(f'wrote {out/h}')
    if screenshots: take_screenshots(out, [h for _, h, _ in todo])


def take_screenshots(out:Path, pages):
    chrome = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
    if not chrome: sys.exit('no chromium found: apt-get install chromium')
    shots = out/'screenshots'; shots.mkdir(exist_ok=True)
    for h in pages:
        png = shots/(Path(h).stem + '.png')
        subprocess.run([chrome, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                        '--disable-background-networking', '--disable-component-update', '--disable-sync',
                        f'--user-data-dir={out}/.chrome', '--hide-scrollbars', '--window-size=1280,2400',
                        '--virtual-time-budget=8000', f'--screenshot={png}', (out/h).resolve().as_uri()],
                       check=True, capture_output=True)
        print(f'screenshot {png}')


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default='_docs_offline', help='output folder (relative to the repository root)')
    ap.add_argument('--screenshots', action='store_true', help='also save a PNG of every page (needs chromium)')
    ap.add_argument('--pages', nargs='*', help='render only the pages whose names start so, e.g. 32 53 (the sidebar lists all)')
    a = ap.parse_args()
    render(ROOT/a.out, a.screenshots, a.pages)
