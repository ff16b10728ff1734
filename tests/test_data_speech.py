"Tests for Speech Commands (sgconv.data.speech): the v0.02 reader on fake trees, features, the 8 kHz test and the synthetic corpus."
import math, shutil, tarfile, warnings
from pathlib import Path

import numpy as np
import pytest
import torch

sf = pytest.importorskip('soundfile')

from sgconv.data.core import MissingDataError, TaskInfo
from sgconv.data.speech import (SC10_WORDS, SC35_WORDS, SC_ARCHIVE, SpeechCommands, VoiceSetting, available_voices,
                                corpus_summary, feature_stats, make_clip, mfcc_features, read_clip, read_split_lists,
                                resample, sc_words, select_speakers, speech_commands_files, synthesize_speech_commands,
                                to_8khz, voice_pool, which_set)

ENGINES_HERE = all(shutil.which(e) for e in ('espeak-ng', 'flite', 'festival'))
needs_engines = pytest.mark.skipif(not ENGINES_HERE, reason='espeak-ng, flite and festival are needed (apt-get install espeak-ng flite festival ...)')


def _wav(path, data, sr=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(data, np.int16), sr, subtype='PCM_16')


def fake_tree(root: Path, words=SC10_WORDS, n=4000):
    "Two speakers per word; clip values 100*word + speaker + 1; 'yes' by speaker a is a quarter second long."
    for wi, w in enumerate(words):
        for si, s in enumerate(('aaaa0001', 'bbbb0002')):
            _wav(root/w/f'{s}_nohash_0.wav', np.full(4000 if (w, si) == ('yes', 0) else 16000, 100*wi + si + 1))
    _wav(root/'no'/'bbbb0002_nohash_1.wav', np.full(16000, 7))
    (root/'validation_list.txt').write_text('./yes/bbbb0002_nohash_0.wav\n')                  # written with './'
    (root/'testing_list.txt').write_text('no/bbbb0002_nohash_0.wav\n  ./no/bbbb0002_nohash_1.wav \n')
    (root/'_background_noise_').mkdir(exist_ok=True)
    return root


# ---------------------------------------------------------------- the reader

def test_split_membership_and_class_order(tmp_path):
    root = fake_tree(tmp_path)
    lists = read_split_lists(root)
    assert lists == {'val': {'yes/bbbb0002_nohash_0.wav'}, 'test': {'no/bbbb0002_nohash_0.wav', 'no/bbbb0002_nohash_1.wav'}}
    idx = speech_commands_files(root, SC10_WORDS)
    assert idx['val'] == [('yes/bbbb0002_nohash_0.wav', 0)]
    assert idx['test'] == [('no/bbbb0002_nohash_0.wav', 1), ('no/bbbb0002_nohash_1.wav', 1)]
    assert len(idx['train']) == 18 and idx['train'][0] == ('yes/aaaa0001_nohash_0.wav', 0)
    assert [y for _, y in idx['train']] == [0, 1] + [y for y in range(2, 10) for _ in range(2)]
    assert sc_words(10)[:4] == ('yes', 'no', 'up', 'down') and list(sc_words(35)) == sorted(SC35_WORDS)
    assert speech_commands_files(root, ('go', 'yes'))['train'][0] == ('go/aaaa0001_nohash_0.wav', 0)


def test_padding_and_reading(tmp_path):
    root = fake_tree(tmp_path)
    c = read_clip(root/'yes'/'aaaa0001_nohash_0.wav')
    assert c.shape == (16000,) and c.dtype == np.int16 and (c[:4000] == 1).all() and (c[4000:] == 0).all()


def test_reader_errors(tmp_path):
    root = fake_tree(tmp_path/'sc', words=SC10_WORDS[:4])
    with pytest.raises(MissingDataError, match='left') as e: speech_commands_files(root, SC10_WORDS)
    assert SC_ARCHIVE in str(e.value)
    with pytest.raises(MissingDataError, match=SC_ARCHIVE): speech_commands_files(tmp_path/'nothing', SC10_WORDS)
    _wav(tmp_path/'r.wav', np.zeros(100), sr=8000)
    sf.write(str(tmp_path/'st.wav'), np.zeros((100, 2), np.int16), 16000, subtype='PCM_16')
    _wav(tmp_path/'long.wav', np.zeros(16001))
    with pytest.raises(ValueError, match=r'r\.wav: sampled at 8000 Hz'): read_clip(tmp_path/'r.wav')
    with pytest.raises(ValueError, match=r'st\.wav: 2 channels'): read_clip(tmp_path/'st.wav')
    with pytest.raises(ValueError, match=r'long\.wav: 16001 samples'): read_clip(tmp_path/'long.wav')
    (root/'validation_list.txt').unlink()
    with pytest.raises(MissingDataError, match='validation_list.txt'): speech_commands_files(root, SC10_WORDS[:4])


def test_archive_is_unpacked(tmp_path):
    src = fake_tree(tmp_path/'src')
    dst = tmp_path/'dst'; dst.mkdir()
    with tarfile.open(dst/SC_ARCHIVE, 'w:gz') as tf:
        for p in sorted(src.iterdir()): tf.add(p, arcname=p.name)
    assert speech_commands_files(dst, SC10_WORDS) == speech_commands_files(src, SC10_WORDS)


def test_which_set_rule():
    ids = [f'{i:08x}' for i in range(0, 2**32, 2**32//4000)]
    sets = [which_set(s) for s in ids]
    assert abs(sets.count('val')/len(ids) - 0.1) < 0.02 and abs(sets.count('test')/len(ids) - 0.1) < 0.02
    assert which_set('yes/0123abcd_nohash_3.wav') == which_set('./no/0123abcd_nohash_0.wav') == which_set('0123abcd')


# ---------------------------------------------------------------- features

def test_dataset_shapes_and_training_statistics(tmp_path):
    root = fake_tree(tmp_path)
    kw = dict(root=root, corpus='v0.02', progress=False)
    tr, va, te = (SpeechCommands(s, **kw) for s in ('train', 'val', 'test'))
    assert (len(tr), len(va), len(te)) == (18, 1, 2) and tr.classes == list(SC10_WORDS)
    x, y = va[0]
    assert x.shape == (16000, 1) and x.dtype == torch.float32 and y == 0
    a = tr.x.double()/2**15                                               # the training audio only
    assert torch.allclose(va.mean.double(), a.mean().reshape(1), atol=1e-7) and torch.equal(va.std, tr.std)
    assert torch.allclose(x[0, 0].double(), (2/2**15 - a.mean())/(a.std() + 1e-5), atol=1e-4)
    assert tr.info == TaskInfo('sc10', None, 1, 10, 16000, False)
    m = SpeechCommands('val', features='mfcc', **kw)
    assert m[0][0].shape == (161, 20) and m.mean.shape == (20,) and m.info.d_input == 20 and m.info.l_max == 161
    mtr = mfcc_features(tr.x)
    assert torch.allclose(m.mean, mtr.double().mean((0, 1)).float(), atol=1e-4)     # MFCC statistics from training clips
    p = SpeechCommands('train', norm='position', cache=False, **kw)
    assert p.mean.shape == (16000, 1)
    with pytest.raises(ValueError, match='features must be one of'): SpeechCommands('train', features='fbank', **kw)
    with pytest.raises(MissingDataError, match='backward'): SpeechCommands('train', classes=35, **kw)


def test_8khz_decimate_and_bandlimited(tmp_path):
    root = fake_tree(tmp_path)
    kw = dict(root=root, corpus='v0.02', progress=False)
    d16, d8 = SpeechCommands('test', **kw), SpeechCommands('test', sample_rate=8000, **kw)
    assert d8[0][0].shape == (8000, 1) and torch.equal(d8[0][0], d16[0][0][::2])
    assert d8.info.l_max == 8000 and d8.resolution == 2 and torch.equal(d8.mean, d16.mean)  # 16 kHz statistics
    assert SpeechCommands('test', sample_rate=8000, resample='bandlimited', **kw)[0][0].shape == (8000, 1)
    assert SpeechCommands('test', sample_rate=8000, features='mfcc', **kw)[0][0].shape == (81, 20)
    t = torch.arange(16000)/16000
    x = (torch.sin(2*math.pi*200*t) + torch.sin(2*math.pi*7000*t)).unsqueeze(-1)
    dec, bl = to_8khz(x), to_8khz(x, 'bandlimited')
    assert torch.equal(dec, x[::2]) and (dec - bl).abs().max() > 0.5
    low = torch.sin(2*math.pi*200*torch.arange(8000)/8000)
    assert abs(2*float((bl[200:-200, 0]*low[200:-200]).mean()) - 1) < 0.02       # the low tone survives
    alias = torch.sin(2*math.pi*1000*torch.arange(8000)/8000)
    assert abs(float((bl[200:-200, 0]*alias[200:-200]).mean())) < 0.01          # the 7 kHz tone does not fold to 1 kHz


def test_feature_cache_key_and_reuse(tmp_path):
    root = fake_tree(tmp_path)
    kw = dict(root=root, corpus='v0.02', progress=False)
    a = SpeechCommands('train', **kw)
    files = sorted(p.name for p in a.cache_dir.iterdir())
    assert files == ['stats_feature.pt', 'train.pt']
    stamp = (a.cache_dir/'train.pt').stat().st_mtime_ns
    b = SpeechCommands('train', **kw)
    assert b.cache_dir == a.cache_dir and (b.cache_dir/'train.pt').stat().st_mtime_ns == stamp and torch.equal(a.x, b.x)
    assert SpeechCommands('train', features='mfcc', **kw).cache_dir != a.cache_dir
    assert SpeechCommands('train', features='mfcc', mfcc_scale='s4', **kw).cache_dir != SpeechCommands('train', features='mfcc', **kw).cache_dir
    _wav(root/'go'/'cccc0003_nohash_0.wav', np.full(16000, 5))                      # the corpus changed
    assert SpeechCommands('train', **kw).cache_dir != a.cache_dir


def test_stats_and_resample_helpers():
    x = torch.randn(6, 40, 2, dtype=torch.float64)*3 + 1
    m, s = feature_stats(x, chunk=4)
    assert torch.allclose(m, x.reshape(-1, 2).mean(0).float()) and torch.allclose(s, x.reshape(-1, 2).std(0).float())
    import torchaudio.functional as AF
    r = np.random.default_rng(0).standard_normal(3000)
    for o, n in [(22050, 16000), (8000, 16000), (32000, 16000)]:
        assert np.allclose(resample(r, o, n), AF.resample(torch.from_numpy(r), o, n).numpy(), atol=1e-9)


# ---------------------------------------------------------------- the synthetic corpus

def test_speaker_ids_and_selection():
    voices = {'espeak-ng': ['en-us', 'en-us+f3', 'en-gb+m3', 'en-gb'], 'flite': ['slt', 'awb'], 'festival': ['kal_diphone']}
    pool = voice_pool(voices, seed=0)
    assert pool == voice_pool(voices, seed=0) and pool != voice_pool(voices, seed=1)
    sp = select_speakers(pool, {'espeak-ng': 1, 'flite': 1, 'festival': 1})
    assert {which_set(s.speaker_id) for s in sp} == {'train', 'val', 'test'} and len({s.speaker_id for s in sp}) == len(sp)
    v = VoiceSetting('flite', 'slt', 1.1, 180., 1.02)
    assert len(v.speaker_id) == 8 and v.speaker_id == VoiceSetting('flite', 'slt', 1.1, 180, 1.02).speaker_id


def test_make_clip_format():
    tone = 0.5*np.sin(2*np.pi*440*np.arange(11025)/22050)
    noise = [np.random.default_rng(0).standard_normal(32000).astype(np.float32)]
    c = make_clip(tone, 22050, np.random.default_rng(3), noise)
    assert c.shape == (16000,) and c.dtype == np.int16
    assert np.array_equal(c, make_clip(tone, 22050, np.random.default_rng(3), noise))


def test_missing_engines(monkeypatch):
    monkeypatch.setenv('PATH', '/nonexistent')
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        with pytest.raises(RuntimeError, match='No speech synthesiser found'): available_voices()
    assert any('flite is not installed' in str(m.message) for m in w)


@needs_engines
def test_synthesis_reproducible_and_speaker_disjoint(tmp_path):
    a = synthesize_speech_commands(tmp_path/'a', size='small', seed=3, progress=False)
    b = synthesize_speech_commands(tmp_path/'b', size='small', seed=3, n_jobs=1, progress=False)
    wavs = sorted(p.relative_to(a).as_posix() for p in a.glob('*/*.wav') if not p.parts[-2].startswith('_'))
    assert wavs and wavs == sorted(p.relative_to(b).as_posix() for p in b.glob('*/*.wav') if not p.parts[-2].startswith('_'))
    assert all((a/r).read_bytes() == (b/r).read_bytes() for r in wavs)              # byte-identical from the seed
    assert (a/'validation_list.txt').read_text() == (b/'validation_list.txt').read_text()
    for r in wavs:
        i = sf.info(str(a/r))
        assert (i.samplerate, i.channels, i.frames, i.subtype) == (16000, 1, 16000, 'PCM_16')
    idx = speech_commands_files(a, ('yes', 'no', 'up', 'down'))
    spk = {s: {Path(r).name.split('_nohash_')[0] for r, _ in rows} for s, rows in idx.items()}
    assert all(spk.values()) and not (spk['train'] & spk['val'] or spk['train'] & spk['test'] or spk['val'] & spk['test'])
    assert all(which_set(s) == split for split, ss in spk.items() for s in ss)
    assert sorted((a/'_background_noise_').iterdir())
    assert corpus_summary(a)['speakers'] == {s: len(v) for s, v in spk.items()}
    c = synthesize_speech_commands(tmp_path/'c', size='small', seed=4, n_flite=0, n_festival=0, progress=False)
    assert (c/'_background_noise_'/'pink_noise.wav').read_bytes() != (a/'_background_noise_'/'pink_noise.wav').read_bytes()
    with pytest.raises(ValueError, match='other settings'): synthesize_speech_commands(a, size='small', seed=4, progress=False)


@needs_engines
def test_dataset_on_small_synthetic_corpus(tmp_path):
    few = dict(words=SC10_WORDS, n_flite=0, n_festival=0)
    ds = SpeechCommands('val', root=tmp_path/'s', size='small', synth=few, progress=False)
    assert len(ds) > 0 and ds[0][0].shape == (16000, 1) and ds.corpus == 'synthetic'
    with pytest.raises(ValueError, match='refusing to write'): SpeechCommands('train', root=fake_tree(tmp_path/'real'), progress=False)
