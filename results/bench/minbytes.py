import sys, statistics, torch
sys.path.insert(0, '/tmp/perf_oldpkg')
import sgconv_old, sgconv, sgconv.fftconv as ff
from sgconv_old.bench import make_block as mk_old
from sgconv.bench import make_block as mk_new, time_interleaved
torch.set_num_threads(int(sys.argv[1])); L = int(sys.argv[2])
torch.manual_seed(0); bo = mk_old('sgconv', 128, L); torch.manual_seed(0); bn = mk_new('sgconv', 128, L)
x = torch.randn(4, L, 128, requires_grad=True); g = torch.randn_like(x)
def fb(blk, mb=None):
    def f():
        if mb: ff.BLOCK_MIN_BYTES = mb
        blk(x).backward(g)
    return f
fns = {'old': fb(bo), '256k': fb(bn, 2**18), '512k': fb(bn, 2**19), '1M': fb(bn, 2**20)}
ts = time_interleaved(fns, 9, 2); med = {k: statistics.median(v) for k, v in ts.items()}
print(f"threads={sys.argv[1]} L={L} fwd+bwd / old:", {k: round(v / med['old'], 2) for k, v in med.items()})
