# one process: the sc10-raw small sgconv training step at d_model 32 and 64, interleaved; prints medians (s)
import sys, json, statistics, torch
from sgconv.bench import _speech_model, _train_step, time_interleaved
torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0); x, y = torch.randn(16, 16000, 1), torch.randint(0, 10, (16,))
fns = {d: _train_step(_speech_model('sgconv', 16000, d_model=d)[0], x, y) for d in (32, 64)}
ts = time_interleaved(fns, 3, 1)
print(json.dumps({d: statistics.median(t) for d, t in ts.items()}))
