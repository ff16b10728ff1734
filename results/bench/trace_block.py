import sys, torch; sys.path.insert(0, '/work/scratch/perf')
from memtrace import live_at_peak
from sgconv.bench import make_block
L, pas, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else 'sgconv'
torch.manual_seed(0); blk = make_block(kind, 128, L)
x = torch.randn(4, L, 128, requires_grad=pas != 'fwd'); g = torch.randn_like(x)
def run():
    if pas == 'fwd':
        with torch.no_grad(): blk(x)
    else: blk(x).backward(g)
run(); live_at_peak(run)
