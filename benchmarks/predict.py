"""Benchmark single-photo prediction on the CPU, and the not-a-bear check, for a saved bearclf model.

    python benchmarks/predict.py --model /tmp/bh/models/default --data /tmp/bh/bears \
        --not-bears ../shared/data/not_bears [--photos 40]

Speed: each way of predicting runs on the same `--photos` validation photos, one photo per call as an app
sees them, after 3 warm-up calls; the median of the per-call wall times is reported. Every call includes
opening the photo from disk. The ways:
- `learn.predict`, the book's way, on the learner `load_learner` returns (this course trains it with a
  channels-last callback), and with that callback removed (the book's learner);
- `Predictor.predict` (safe format, folded batch norms, channels-last), with and without the not-a-bear gate.
Run it on an idle machine: cpu/wall in the output should be close to the thread count, not above it.

Accuracy: the model's validation photos (the split in its card) with the gate on: a photo counts as right
only if it gets its own label (a bear wrongly called `not_a_bear` is wrong). Reported twice: on every
validation photo, and on the bear photos only, using the decisions a person made by looking at the course's
photos (`--decisions`, default `nbs/course/bear_decisions.csv`): photos marked `delete` there are not bear photos
and are left out, relabelled ones count with their new label. The photos under `--not-bears` (any
sub-folders) should all be `not_a_bear`.
"""
import argparse, json, statistics, time, warnings
from pathlib import Path

def median_ms(predict, photos, warmup=3):
    for fn in photos[:warmup]: predict(fn)
    times = []
    for fn in photos:
        start = time.perf_counter(); predict(fn); times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', type=Path, required=True)
    p.add_argument('--data', type=Path, required=True, help='the photos the model was trained on (for its validation split)')
    p.add_argument('--not-bears', type=Path, required=True)
    p.add_argument('--photos', type=int, default=40)
    p.add_argument('--decisions', type=Path, default=Path(__file__).parents[1]/'nbs'/'course'/'bear_decisions.csv')
    args = p.parse_args()
    warnings.filterwarnings('ignore')
    import torch
    from fastai.callback.channelslast import ChannelsLast
    from fastai.vision.all import get_image_files, load_learner, parent_label
    from bearclf.inference import NOT_A_BEAR, Predictor
    from bearclf.clean import DELETE, read_decisions
    from bearclf.core import photo_key
    from bearclf.train import load_trained

    learn = load_trained(args.model, args.data)
    valid = list(learn.dls.valid_ds.items)
    photos = valid[:args.photos]
    book = load_learner(args.model/'model.pkl')
    stock = load_learner(args.model/'model.pkl')
    stock.remove_cb(ChannelsLast)
    gated, ungated = Predictor.load(args.model), Predictor.load(args.model, check_domain=False)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    with book.no_bar(), stock.no_bar():
        ms = {'learn.predict (as trained: channels-last)': median_ms(book.predict, photos),
              'learn.predict (the book\'s learner: no channels-last)': median_ms(stock.predict, photos),
              'Predictor.predict, no not-a-bear gate': median_ms(ungated.predict, photos),
              'Predictor.predict (the default: with the gate)': median_ms(gated.predict, photos)}
    cpu_per_wall = (time.process_time() - cpu0) / (time.perf_counter() - wall0)

    preds = gated.predict_many(valid)
    right = sum(pr.label == parent_label(fn) for pr, fn in zip(preds, valid))
    flagged = [photo_key(fn) for pr, fn in zip(preds, valid) if pr.label == NOT_A_BEAR]
    decided = read_decisions(args.decisions)
    truth = {photo_key(fn): decided.get(photo_key(fn), parent_label(fn)) for fn in valid}
    bears = [(pr, truth[photo_key(fn)]) for pr, fn in zip(preds, valid) if truth[photo_key(fn)] != DELETE]
    bears_right = sum(pr.label == label for pr, label in bears)
    wrong = [(photo_key(Path(pr.file)), label, pr.label) for pr, label in bears if pr.label != label]
    others = get_image_files(args.not_bears)
    other_preds = gated.predict_many(others)
    caught = sum(pr.label == NOT_A_BEAR for pr in other_preds)

    print(f'torch threads {torch.get_num_threads()}, cpu/wall during timing {cpu_per_wall:.2f}, {len(photos)} photos\n')
    print('| way | median ms per photo | vs Predictor |\n|---|---:|---:|')
    default = ms['Predictor.predict (the default: with the gate)']
    for way, m in ms.items(): print(f'| {way} | {m:.1f} | {m/default:.2f}x |')
    print(f'\nvalidation photos right with the gate: {right}/{len(valid)} = {right/len(valid):.1%}; called not_a_bear: {flagged}')
    print(f'validation bear photos right with the gate: {bears_right}/{len(bears)} = {bears_right/len(bears):.1%}; wrong: {wrong}')
    print(f'other animals called not_a_bear: {caught}/{len(others)} = {caught/len(others):.0%}')
    print(json.dumps(dict(ms=ms, cpu_per_wall=cpu_per_wall, valid_right=right, valid=len(valid), flagged=flagged,
                          bears_right=bears_right, bears=len(bears), wrong=wrong,
                          others_caught=caught, others=len(others))))

if __name__ == '__main__': main()
