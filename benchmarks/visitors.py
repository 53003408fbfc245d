"""Benchmark `bearclf app` with many visitors: the issue's targets, on the machine it runs on.

    python benchmarks/visitors.py [--runs 3]      # from the repository's root, with the course's model trained

Targets (2 cores): eight browser sessions opened at once all answered right within 30 s, the server and its kernels
under 4 GB; one visitor's first render within 5 s of opening the page, and 5 photos classified within 1 s of the
click. Each run starts `bearclf app` with its defaults (as the README does; `--ready N` to keep more kernels ready),
waits for its ready kernels, then:
- one visitor opens the page, uploads 5 photos and clicks Classify: the seconds to the first render, and from the
  click to the fifth answer;
- once that page is closed, eight visitors open it together, each with 5 photos of its own: the seconds from opening
  to the last answer for each, and the server's memory (PSS, with all its kernels) while the eight pages are open.
Every answer is checked against the model's own (the tests' `expected_verdicts`). Run it on an idle machine.
"""
import argparse, asyncio, os, statistics, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).parents[1]
sys.path.insert(0, str(REPO/'tests'))  # one way to start the app and to be a visitor: the tests'
from conftest import SHARED_DATA
from test_app import free_port, start_app, stop_app
from playwright.async_api import async_playwright
from test_visitors import READY, expected_verdicts, kernels, launch, leave, memory_mb, photo_sets, visitors

def one_run(sets:list, expected:list, one:list, ready:int)->dict:
    port, log = free_port(), Path(tempfile.mkdtemp())/'predictions.sqlite'
    proc = start_app(port, 60, os.environ | dict(BEARCLF_LOG=str(log)), command=('app', '--ready', str(ready)))
    url = f'http://127.0.0.1:{port}/'
    try:
        while len(kernels(proc.pid)) < ready: time.sleep(0.5)
        time.sleep(10)  # the ready kernels have run the notebook
        async def alone_then_eight():
            async with async_playwright() as p:
                browser = await launch(p)
                [alone] = await visitors(browser, url, [one])
                await leave([alone])
                while len(kernels(proc.pid)) > ready: await asyncio.sleep(0.5)  # its kernel ended with its page
                await asyncio.sleep(5)  # and a ready kernel took its place
                seen = await visitors(browser, url, sets)
                memory = memory_mb(proc.pid)
                await leave(seen)
                await browser.close()
            return alone, seen, memory
        alone, seen, memory = asyncio.run(alone_then_eight())
        assert alone['verdicts'] == expected_verdicts(one), alone
        assert [s.get('verdicts') for s in seen] == expected, seen
        return dict(render=alone['render'], classify=alone['classified'], eight=[s['answered'] for s in seen],
                    memory=memory)
    finally: stop_app(proc)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--runs', type=int, default=3)
    p.add_argument('--ready', type=int, default=READY, help="bearclf app's --ready (default: its default, %(default)s)")
    args = p.parse_args()
    sets = photo_sets(SHARED_DATA, 9, 5)
    one, sets = sets[0], sets[1:]
    expected = [expected_verdicts(s) for s in sets]
    for run in range(args.runs):
        r = one_run(sets, expected, one, args.ready)
        print(f"--ready {args.ready}, run {run+1}: one visitor: first render {r['render']:.2f} s, 5 photos {r['classify']:.2f} s after the click; "
              f"eight at once: all answered within {max(r['eight']):.1f} s (median {statistics.median(r['eight']):.1f} s), "
              f"{r['memory']:.0f} MB with the server", flush=True)

if __name__ == '__main__': main()
