"""Benchmark single-photo prediction on the CPU, with the "none of these" check, for a saved bearclf model.

    python benchmarks/predict.py --model /tmp/bh/models/default --data /tmp/bh/bears \
        --not-bears ../shared/data/not_bears [--photos 40]

Speed: each way of predicting runs on the same `--photos` validation photos, one photo per call as an app
sees them, after 3 warm-up calls, in a process of its own (as an app's kernel has one runtime: ONNX Runtime's threads
keep spinning after a call, and would slow a PyTorch call in the same process); the ways take turns for `--rounds`
rounds, and the median over the rounds of each round's median per-call wall time is reported. Every call includes
opening the photo from disk. The ways:
- `learn.predict`, the book's way, on the learner `load_learner` returns (this course trains it with a
  channels-last callback), and with that callback removed (the book's learner);
- `Predictor.predict`: PyTorch (safe format, folded batch norms, channels-last), with the check;
- `OnnxPredictor.predict`: `model.onnx` through ONNX Runtime, the default of `bearclf predict` and the app;
- the same, for a copy of the model whose check has its own network (EfficientNet-Lite0 at 224 px, as the check
  was before it could share the classifier's body), when the model's check shares its body.
Run it on an idle machine: cpu/wall in the output should be close to the thread count, not above it.

Memory: the peak resident memory (Linux's VmHWM) of a fresh process that imports the app and loads the model the
way its kernel does (`load_predictor`), and predicts one photo, through ONNX Runtime and through PyTorch (`pytorch=True`).

Accuracy: the model's validation photos (the split in its card) with the check on, through the default predictor: a
photo counts as right only if it gets its own label (a bear wrongly called `not_a_bear` is wrong). Reported twice: on
every validation photo, and on the bear photos only, using the decisions a person made by looking at the course's
photos (`--decisions`, default `nbs/course/bear_decisions.csv`): photos marked `delete` there are not bear photos
and are left out, relabelled ones count with their new label. The photos under `--not-bears` (any
sub-folders) should all be `not_a_bear`.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time, warnings
from contextlib import nullcontext
from pathlib import Path

def median_ms(predict, photos, warmup=3):
    for fn in photos[:warmup]: predict(fn)
    times = []
    for fn in photos:
        start = time.perf_counter(); predict(fn); times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)

def way_predict(way:str, model:Path, two_networks:Path=None)->tuple: # `(predict, the context to call it in)`
    "The `predict` of `way` (one of `WAYS`), loaded in this process"
    if way.startswith('learn.predict'):
        from fastai.callback.channelslast import ChannelsLast
        from fastai.vision.all import load_learner
        learn = load_learner(model/'model.pkl')
        if 'book' in way: learn.remove_cb(ChannelsLast)
        return learn.predict, learn.no_bar()
    if way.startswith('Predictor'):
        from bearclf.inference import Predictor
        return Predictor.load(model).predict, nullcontext()
    from bearclf.runtime import OnnxPredictor
    return OnnxPredictor.load(two_networks if 'two networks' in way else model).predict, nullcontext()

DEFAULT = '**OnnxPredictor.predict** (the default: ONNX Runtime, with the check)'
WAYS = ['learn.predict (as trained: channels-last)', "learn.predict (the book's learner: no channels-last)",
        'Predictor.predict (PyTorch, with the check)', DEFAULT,
        'OnnxPredictor.predict, the check with its own Lite0 (two networks)']

def time_way(argv:list):
    "In a process of its own: print `median_ms` of one way, and its CPU time over wall time"
    p = argparse.ArgumentParser()
    p.add_argument('--time-way', required=True); p.add_argument('--model', type=Path, required=True)
    p.add_argument('--two-networks', type=Path); p.add_argument('photos', nargs='+', type=Path)
    args = p.parse_args(argv)
    warnings.filterwarnings('ignore')
    predict, context = way_predict(args.time_way, args.model, args.two_networks)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with context: ms = median_ms(predict, args.photos)
    print((time.process_time() - cpu0) / (time.perf_counter() - wall0), ms)

def time_in_own_process(way:str, model:Path, photos:list, two_networks:Path=None)->tuple: # `(cpu/wall, ms)`
    "`median_ms` of `way` on `photos`, measured in a new Python process"
    done = subprocess.run([sys.executable, __file__, '--time-way', way, '--model', str(model),
                           *(['--two-networks', str(two_networks)] if two_networks else []), *map(str, photos)],
                          capture_output=True, text=True, check=True)
    return tuple(map(float, done.stdout.split()[-2:]))

# Linux's VmHWM is the process's own peak: `ru_maxrss` would report this process's, which a child inherits
PEAK_MEMORY = '''import re, sys
import bearclf.app  # what the app's kernel imports
from bearclf.runtime import load_predictor
predictor = load_predictor(sys.argv[1], pytorch=sys.argv[2] == 'pytorch')
predictor.predict(sys.argv[3])
peak_kb = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))
print(type(predictor).__name__, peak_kb / 1024)'''

def peak_memory_mb(model:Path, runtime:str, photo:Path)->tuple: # `(predictor's class, MB)`
    out = subprocess.run([sys.executable, '-c', PEAK_MEMORY, str(model), runtime, str(photo)], capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0], float(out[1])

def with_own_check(model:Path, data:Path, tmp:Path)->Path:
    "A copy of `model` whose check has its own network: untouched Lite0 at 224 px, calibrated as `bearclf.domain` does"
    from bearclf.domain import domain_check, survey
    from bearclf.export import export_onnx
    card = json.loads((model/'model_card.json').read_text(encoding='utf-8'))
    copy = Path(shutil.copytree(model, tmp/'own_check', ignore=shutil.ignore_patterns('*.pkl', '*.onnx', '.lock')))
    card['domain'] = domain_check(survey(data, 224), card['classes'])
    (copy/'model_card.json').write_text(json.dumps(card), encoding='utf-8')
    export_onnx(copy)
    return copy

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', type=Path, required=True)
    p.add_argument('--data', type=Path, required=True, help='the photos the model was trained on (for its validation split)')
    p.add_argument('--not-bears', type=Path, required=True)
    p.add_argument('--photos', type=int, default=40)
    p.add_argument('--rounds', type=int, default=3, help='each way is timed this many times, in turn')
    p.add_argument('--decisions', type=Path, default=Path(__file__).parents[1]/'nbs'/'course'/'bear_decisions.csv')
    args = p.parse_args()
    warnings.filterwarnings('ignore')
    from fastai.vision.all import get_image_files, parent_label
    from bearclf.core import NOT_A_BEAR, photo_key
    from bearclf.clean import DELETE, read_decisions
    from bearclf.runtime import OnnxPredictor
    from bearclf.train import load_trained

    learn = load_trained(args.model, args.data)
    valid = list(learn.dls.valid_ds.items)
    photos = valid[:args.photos]
    tmp = Path(tempfile.mkdtemp())
    two_networks = with_own_check(args.model, args.data, tmp) if learn.card['domain'].get('shares_body') else None
    ways = [way for way in WAYS if two_networks or 'two networks' not in way]
    rounds = [{way: time_in_own_process(way, args.model, photos, two_networks) for way in ways} for _ in range(args.rounds)]
    ms = {way: statistics.median(r[way][1] for r in rounds) for way in ways}
    cpu_per_wall = statistics.mean(r[way][0] for r in rounds for way in ways)
    memory = {runtime: peak_memory_mb(args.model, runtime, photos[0]) for runtime in ('onnx', 'pytorch')}

    default = OnnxPredictor.load(args.model)
    preds = default.predict_many(valid)
    right = sum(pr.label == parent_label(fn) for pr, fn in zip(preds, valid))
    flagged = [photo_key(fn) for pr, fn in zip(preds, valid) if pr.label == NOT_A_BEAR]
    decided = read_decisions(args.decisions)
    truth = {photo_key(fn): decided.get(photo_key(fn), parent_label(fn)) for fn in valid}
    bears = [(pr, truth[photo_key(fn)]) for pr, fn in zip(preds, valid) if truth[photo_key(fn)] != DELETE]
    bears_right = sum(pr.label == label for pr, label in bears)
    wrong = [(photo_key(Path(pr.file)), label, pr.label) for pr, label in bears if pr.label != label]
    others = get_image_files(args.not_bears)
    caught = sum(pr.label == NOT_A_BEAR for pr in default.predict_many(others))
    shutil.rmtree(tmp)

    print(f'load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores, cpu/wall during timing {cpu_per_wall:.2f}, '
          f'{len(photos)} photos, {args.rounds} rounds\n')
    print('| way | median ms per photo | vs the default |\n|---|---:|---:|')
    base = ms[DEFAULT]
    for way, m in ms.items(): print(f'| {way} | {m:.1f} | {m/base:.2f}x |')
    print('\n| a process that loads the model and predicts a photo | predictor | peak memory (MB) |\n|---|---|---:|')
    for runtime, (kind, mb) in memory.items():
        print(f'| `load_predictor(..., pytorch={runtime == "pytorch"})` | {kind} | {mb:.0f} |')
    print(f'\nvalidation photos right with the check: {right}/{len(valid)} = {right/len(valid):.1%}; '
          f'called not_a_bear: {flagged}')
    print(f'validation bear photos right with the check: {bears_right}/{len(bears)} = {bears_right/len(bears):.1%}; '
          f'wrong: {wrong}')
    print(f'other animals called not_a_bear: {caught}/{len(others)} = {caught/len(others):.0%}')
    print(json.dumps(dict(ms=ms, cpu_per_wall=cpu_per_wall, memory_mb=memory, valid_right=right, valid=len(valid),
                          flagged=flagged, bears_right=bears_right, bears=len(bears), wrong=wrong,
                          others_caught=caught, others=len(others))))

if __name__ == '__main__': time_way(sys.argv[1:]) if '--time-way' in sys.argv else main()
