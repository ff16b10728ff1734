# live tensor set at the peak of fn(), from the profiler's memory events; each alloc named by the innermost op around it
import json, os, tempfile, bisect
def live_at_peak(fn, top=15):
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=False) as prof: fn()
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, 't.json'); prof.export_chrome_trace(p); ev = json.load(open(p))['traceEvents']
    ops = sorted([(e['ts'], e['ts'] + e.get('dur', 0), e['name']) for e in ev if e.get('ph') == 'X' and e.get('cat') in ('cpu_op', 'python_function', 'user_annotation')], key=lambda o: o[0])
    mem = sorted((e for e in ev if e.get('name') == '[memory]'), key=lambda e: e['args'].get('Ev Idx', 0))
    def owner(ts):
        chain = [n for s, t, n in ops if s <= ts <= t]
        chain = [n for n in chain if not n.startswith(('aten::empty', 'aten::zeros', 'aten::new_', 'aten::resize'))]
        return ' > '.join(chain[-3:]) if chain else '?'
    live, cur, peak, snap = {}, 0, 0, {}
    for e in mem:
        a = e['args']; b = a['Bytes']; addr = a['Addr']; cur += b
        if b > 0: live[addr] = (b, e['ts'])
        else: live.pop(addr, None)
        if cur > peak: peak, snap = cur, dict(live)
    agg = {}
    for addr, (b, ts) in snap.items():
        k = owner(ts) + f' [{b/2**20:.2f}]'; c = agg.setdefault(k, [0, 0]); c[0] += b; c[1] += 1
    print(f"peak {peak/2**20:.1f} MB")
    for k, (b, c) in sorted(agg.items(), key=lambda kv: -kv[1][0])[:top]: print(f"  {b/2**20:8.2f} MB  {c:3d}  {k}")
    return peak
