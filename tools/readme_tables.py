#!/usr/bin/env python
"""Rewrite the README's result tables from the committed results files (between `<!-- name -->` and `<!-- /name -->`):

    python tools/readme_tables.py          # lra (Table 1), pathx-steps (Path-X step costs), speech (Table 3), vision (Fashion-MNIST), lm (Table 4), bert (Table 5), ablation (Figure 3), and their findings
"""
import json, re, statistics
from pathlib import Path
from sgconv.results import load_results, summarize, mean_std
from sgconv.speech_results import table3, speech_findings
from sgconv.lm_results import load_runs, depth_study
from sgconv.bert_results import table5, bert_findings
from sgconv.lra_results import table1, lra_findings, step_costs
from sgconv.ablation import load_ablation, ablation_table, decay_findings, study_label, study_command

ROOT = Path(__file__).resolve().parents[1]

SPEECH_ROWS = load_results(ROOT/'results/speech/results.json', root=ROOT/'results/speech')   # read once, for the table and its findings

def speech()->str: return table3(SPEECH_ROWS)

def speech_summary()->str: return speech_findings(SPEECH_ROWS)   # the prose's numbers, printed from the rows

def vision()->str:
    rows = load_results(ROOT/'results/vision/results.json', root=ROOT/'results/vision')
    meas = json.loads((ROOT/'results/vision/measures.json').read_text()) if (ROOT/'results/vision/measures.json').exists() else {}
    acc = {s['model']: s for s in summarize(rows, by=('model',))}
    out = ['| model | test accuracy (%) | seeds | parameters | MFLOPs / image (inference, training) | images/s vs ConvNeXt (inference, training) |', '|---|---|---|---|---|---|']
    base = meas.get('convnext-atto')
    for m in ('sgconvnext-atto', 'convnext-atto'):
        if m not in acc: continue
        d = meas.get(m)
        fl = f"{d['flops'] / 1e6:.0f}, {d['train_flops'] / 1e6:.0f}" if d else ''
        sp = f"{d['infer_ips'] / base['infer_ips']:.2f}, {d['train_ips'] / base['train_ips']:.2f}" if d and base else ''
        out.append(f"| {m} | {mean_std(acc[m]['test_acc_values'])} | {acc[m]['n']} | {d['params'] if d else acc[m].get('params', ''):,} | {fl} | {sp} |")
    return '\n'.join(out)

def lm()->str:
    files = sorted((ROOT/'results/lm/table4').glob('*.json'))
    rows = [r for f in files for r in load_results(f)]   # each file holds one run's rows
    out = ['| model | parameters | val perplexity | test perplexity | seeds |', '|---|---|---|---|---|']
    for m in ('txl16', 'hybrid16', 'txl18', 'hybrid18', 'sgconv-lm'):
        rs = [r for r in rows if r['model'] == m]
        if not rs: continue
        f = lambda k: (f"{statistics.fmean(v):.1f} ± {statistics.stdev(v):.1f}" if len(v := [r[k] for r in rs]) > 1 else f"{v[0]:.1f}")
        out.append(f"| {m} | {rs[0]['params']:,} | {f('val_ppl')} | {f('test_ppl')} | {len(rs)} |")
    return '\n'.join(out)

def lm_findings()->str:
    "Figure 4b's trend and the distillation's perplexity changes, printed from results/lm"
    out = []
    runs = load_runs(ROOT/'results/lm/fig4b', repo=ROOT) if list((ROOT/'results/lm/fig4b').glob('*.json')) else []
    if runs:
        st = depth_study(runs)
        out.append(f"- Figure 4b, {st['n']} random orderings of 4 SGConv and 4 attention blocks (`tools/lm_experiments.sh fig4b 12`): "
                   f"{st['slope']:+.2f} validation perplexity per unit of SGConv depth, Pearson r = {st['pearson']:.2f}, permutation "
                   f"p = {st['p_value']:.2f}" + (": no trend told apart from chance; the paper finds lower perplexity deeper." if st['p_value'] >= 0.05 else '.'))
    for f in sorted((ROOT/'results/lm').glob('distill-*.json')):
        rs = json.loads(f.read_text()); base = next(r for r in rs if r['order'] == 0)
        ch = ', '.join(f"{r['test_ppl'] - base['test_ppl']:+.2f} at order {r['order']}" for r in rs if r['order'])
        out.append(f"- Distilling {base['model']}'s kernels into a diagonal recurrence (`tools/lm_experiments.sh distill`): test perplexity "
                   f"{base['test_ppl']:.2f}, changed by {ch}.")
    return '\n'.join(out)

LRA_ROWS = [r for r in load_results(ROOT/'results/lra/results.json', root=ROOT/'results/lra') if r['preset'] == 'small']

def lra()->str: return table1(LRA_ROWS)

def lra_summary()->str: return lra_findings(LRA_ROWS)

def pathx_steps()->str:
    "One training step of each Path-X model at 16,384 pixels, side by side (results/bench/pathx_steps.json), and a run's hours at that pace"
    steps = [r['steps'] for r in LRA_ROWS if r['task'] == 'pathx' and r['model'] == 'sgconv']
    return step_costs(json.loads((ROOT/'results/bench/pathx_steps.json').read_text())['rows'], 'pathx', steps=steps[0] if steps else None)

BERT = ROOT/'results/bert'
def _bert_rows(name): return load_results(BERT/name, root=BERT) if (BERT/name).exists() else []
BERT_FINE, BERT_PRE = _bert_rows('finetune.json'), _bert_rows('pretrain.json')   # read once, for the table and its findings

def bert()->str: return table5(BERT_FINE, BERT_PRE)

def bert_summary()->str: return bert_findings(BERT_FINE)

ABLATION = load_ablation(ROOT/'results/ablation')   # no folder: no studies

def ablation()->str:
    "Figure 3's decay sweep per task: the table and what the seeds support"
    out = []
    for name, rows in ABLATION.items():
        label, command = study_label(name), study_command(name)
        out += [f"{label}, {len(rows)} runs: `{command}`", '', ablation_table(rows, sweeps=('t',)), '', decay_findings(rows, label), '']
    return '\n'.join(out).strip()

text = (ROOT/'README.md').read_text()
for name, fn in (('lra', lra), ('lra-findings', lra_summary), ('pathx-steps', pathx_steps), ('speech', speech), ('speech-findings', speech_summary), ('vision', vision), ('lm', lm), ('lm-findings', lm_findings),
                 ('bert', bert), ('bert-findings', bert_summary), ('ablation', ablation)):
    pat = re.compile(rf'(<!-- {name} -->\n)(.*?)(<!-- /{name} -->)', re.S)
    if pat.search(text): text = pat.sub(lambda m: m.group(1) + fn() + '\n' + m.group(3), text); print('updated', name)
(ROOT/'README.md').write_text(text)
