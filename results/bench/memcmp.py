# usage: python memcmp.py threads L1,L2 [variants]; prints tensor peak MB for old/new sgconv and attention
import json, subprocess, sys, os
threads, Ls = sys.argv[1], [int(v) for v in sys.argv[2].split(',')]
roots = {'old': '/tmp/perf_old', 'new': '/work/wt/perf'}
probe = r'''
import json, sys, torch
from sgconv.bench import probe_memory, make_block
import sgconv.bench as b
args = json.loads(sys.argv[1])
opts = args.pop('opts', {})
if opts:
    from sgconv.mixers import mixer_config, MIXERS
    from sgconv.blocks import ResidualBlock
    def mk(kind, d_model, L, *, kernel_dim=64, d_state=64, heads=4, bidirectional=False):
        cfg = mixer_config('sgconv', kernel_dim=kernel_dim, kernel_lr=None, **opts)
        return ResidualBlock(cfg.build(d_model, L, bidirectional=opts.get('_bi', False)), d_model, norm='layer')
    b.make_block = mk
print(json.dumps(probe_memory(**args)))
'''
out = {}
for L in Ls:
    for pas in ['fwd', 'fwd+bwd']:
        for name, kind, root, opts in [('attention', 'attention', roots['new'], {}), ('sg-old', 'sgconv', roots['old'], {}), ('sg-new', 'sgconv', roots['new'], {}),
                                       ('sg-old-glu', 'sgconv', roots['old'], {'output': 'glu'}), ('sg-new-glu', 'sgconv', roots['new'], {'output': 'glu'})]:
            a = dict(kind=kind, L=L, batch=4, d_model=128, pas=pas, opts=opts)
            env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS=threads)
            r = subprocess.run([sys.executable, '-c', probe, json.dumps(a)], capture_output=True, text=True, env=env)
            if r.returncode: print(r.stderr[-1500:]); sys.exit(1)
            m = json.loads(r.stdout.strip().splitlines()[-1])
            out[(L, pas, name)] = m['tensor_peak_mb']
        row = {k[2]: round(v, 1) for k, v in out.items() if k[:2] == (L, pas)}
        print(threads, L, pas, row, 'new/attn=%.2f old/attn=%.2f newglu/attn=%.2f' % (row['sg-new']/row['attention'], row['sg-old']/row['attention'], row['sg-new-glu']/row['attention']), flush=True)
