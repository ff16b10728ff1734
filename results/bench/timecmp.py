# side-by-side old (sgconv_old, HEAD before this work) vs new (worktree) timings, interleaved rounds; prints ratios new/old
import sys, statistics, torch
sys.path.insert(0, '/tmp/perf_oldpkg')
import sgconv_old, sgconv
from sgconv.bench import time_interleaved
torch.set_num_threads(int(sys.argv[1])); what = sys.argv[2]; reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
def block_pair(L, **opts):
    fns = {}
    for tag, pkg in [('old', sgconv_old), ('new', sgconv)]:
        import importlib; bench = importlib.import_module(pkg.__name__ + '.bench'); mixers = importlib.import_module(pkg.__name__ + '.mixers'); blocks = importlib.import_module(pkg.__name__ + '.blocks')
        torch.manual_seed(0)
        cfg = mixers.mixer_config('sgconv', kernel_dim=64, kernel_lr=None, output=opts.get('output', 'linear'))
        blk = blocks.ResidualBlock(cfg.build(128, L, bidirectional=opts.get('bi', False)), 128, norm='layer')
        x = torch.randn(4, L, 128, requires_grad=True); g = torch.randn_like(x)
        def fb(blk=blk, x=x, g=g):
            blk(x).backward(g)
            for p in blk.parameters(): p.grad = None
        def fwd(blk=blk, x=x):
            with torch.no_grad(): blk(x)
        fns[tag + ' fb'] = fb; fns[tag + ' fwd'] = fwd
    return fns
def speech_pair(d_model):
    fns = {}
    for tag, pkg in [('old', sgconv_old), ('new', sgconv)]:
        import importlib; tasks = importlib.import_module(pkg.__name__ + '.tasks'); models = importlib.import_module(pkg.__name__ + '.models'); core = importlib.import_module(pkg.__name__ + '.data.core')
        cfg = tasks.resolve_run('sc10-raw', 'sgconv', 'small')
        opts = dict(cfg.model_options, d_model=d_model)
        torch.manual_seed(0); m = models.build_model(core.TaskInfo('sc10', None, 1, 10, 16000), 'sgconv', **opts)
        x = torch.randn(16, 16000, 1); y = torch.randint(0, 10, (16,))
        def step(m=m, x=x, y=y):
            torch.nn.functional.cross_entropy(m(x), y).backward()
            for p in m.parameters(): p.grad = None
        fns[tag] = step
    return fns
if what == 'block':
    for L in [int(v) for v in sys.argv[4].split(',')]:
        for opts in [{}, {'output': 'glu', 'bi': True}]:
            ts = time_interleaved(block_pair(L, **opts), reps, 1)
            med = {k: statistics.median(v) for k, v in ts.items()}
            print(f"threads={sys.argv[1]} L={L} {opts}: new/old fwd {med['new fwd']/med['old fwd']:.2f}  fwd+bwd {med['new fb']/med['old fb']:.2f}  (old fb {med['old fb']*1e3:.0f} ms)", flush=True)
else:
    for d in [int(v) for v in sys.argv[4].split(',')]:
        ts = time_interleaved(speech_pair(d), reps, 1)
        med = {k: statistics.median(v) for k, v in ts.items()}
        print(f"threads={sys.argv[1]} speech d_model={d}: new/old step {med['new']/med['old']:.2f}  (old {med['old']:.2f} s, new {med['new']:.2f} s)", flush=True)
