"""Benchmark `bearclf train` with its default recipe on two datasets side by side, and each model's "none of these" check.

    python benchmarks/own_classifier.py --data ../shared/data/sign_digits ~/.bearclf/bears \
        --not-bears ../shared/data/not_bears --out /tmp/own

For each `--data` folder: `bearclf train --data DIR --out OUT/<name>` runs as a user runs it (its wall time includes
starting Python, looking at the photos, choosing the recipe, training and saving), then the saved model predicts:
- its validation photos (the card's split): the share kept in its domain, and the share right (in the domain *and*
  the right label). For the bear photos, the photos a person marked `delete` in `--decisions` (default
  `nbs/course/bear_decisions.csv`) are not bear photos: they are left out of "right", and counted with the dogs;
- the photos of the other datasets, the cats under `--not-bears`, and the dogs that `--decisions` found among the
  teddies: the share flagged as outside the domain;
- the validation photos it doubts most (highest loss), to look at.
Run it on an idle machine: every time is wall time.
"""
import argparse, json, subprocess, shutil, time
from pathlib import Path

def trained(data:Path, out:Path)->tuple: # `(card, wall seconds)`
    start = time.perf_counter()
    done = subprocess.run([shutil.which('bearclf'), 'train', '--data', str(data), '--out', str(out)],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode: raise SystemExit(done.stderr)
    return json.loads((out/'model_card.json').read_text(encoding='utf-8')), seconds

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', type=Path, nargs='+', required=True, help='folders of <label>/ photos')
    p.add_argument('--not-bears', type=Path, required=True)
    p.add_argument('--out', type=Path, required=True)
    p.add_argument('--decisions', type=Path, default=Path(__file__).parents[1]/'nbs'/'course'/'bear_decisions.csv')
    args = p.parse_args()
    import torch
    from fastai.vision.all import RandomSplitter, get_image_files, parent_label
    from bearclf.clean import DELETE, read_decisions
    from bearclf.core import photo_key
    from bearclf.inference import Predictor

    decided = read_decisions(args.decisions)
    photos = {d.name: get_image_files(d) for d in args.data}
    others = {'cats': get_image_files(args.not_bears)}
    for d in args.data:  # the dogs a person found among the photos of a dataset
        dogs = [d/k for k, v in decided.items() if v == DELETE and (d/k).exists()]
        if dogs: others[f'not-bears in {d.name} (dogs, coats, a drawing)'] = dogs
    rows = {}
    for d in args.data:
        card, seconds = trained(d, args.out/d.name)
        predictor = Predictor.load(args.out/d.name)
        fns = photos[d.name]
        valid = [fns[i] for i in RandomSplitter(valid_pct=0.2, seed=42)(fns)[1]]
        junk = {photo_key(fn) for fn in valid if decided.get(photo_key(fn)) == DELETE}
        preds = predictor.predict_many(valid)
        real = [(p, fn) for p, fn in zip(preds, valid) if photo_key(fn) not in junk]
        losses = sorted(((-torch.tensor(p.probs[parent_label(fn)]).log().item(), photo_key(fn), p.label, max(p.probs.values()))
                         for p, fn in real), reverse=True)[:10]
        row = dict(recipe=f"{card['architecture']} {card['recipe']['size']} px, head {card['recipe']['freeze_epochs']} "
                          f"epochs, whole model {card['recipe']['epochs']} (lr {card['recipe']['lr']}, lr_mult {card['recipe']['lr_mult']})",
                   linear_probe=card['recipe_choice']['linear_probe'], train_command_seconds=round(seconds, 1),
                   train_seconds=card['train_seconds'], survey_seconds=card['recipe_choice']['survey_seconds'],
                   card_accuracy=card['validation']['accuracy'], validation=len(valid), left_out_as_not_bears=len(junk),
                   kept_in_domain=sum(p.in_domain for p, _ in real) / len(real),
                   right=sum(p.in_domain and p.label == parent_label(fn) for p, fn in real) / len(real),
                   domain=card['domain']['imagenet_classes'], threshold=card['domain']['threshold'], doubted=losses)
        for name, fns in [*((n, f) for n, f in photos.items() if n != d.name), *others.items()]:
            if name.endswith(f'in {d.name} (dogs, coats, a drawing)'): name += ', which it was trained on'
            flagged = [p.in_domain is False for p in predictor.predict_many(fns)]
            row[f'flagged: {name}'] = f'{sum(flagged)}/{len(flagged)} = {sum(flagged)/len(flagged):.1%}'
        rows[d.name] = row
        print(json.dumps({d.name: row}), flush=True)
    keys = list(dict.fromkeys(k for r in rows.values() for k in r if k != 'doubted'))
    print('\n| | ' + ' | '.join(rows) + ' |\n|---|' + '---|' * len(rows))
    for k in keys:
        print(f'| {k} | ' + ' | '.join(f'{r[k]:.1%}' if isinstance(r.get(k), float) and r[k] <= 1 and k not in
                                      ('threshold',) else str(r.get(k, '')) for r in rows.values()) + ' |')
    for name, r in rows.items():
        print(f'\n{name}: the validation photos it doubts most (loss, photo, said, top probability)')
        for loss, key, said, top in r['doubted']: print(f'  {loss:5.2f} {key} -> {said} ({top:.2f})')

if __name__ == '__main__': main()
