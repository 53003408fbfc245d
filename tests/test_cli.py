"""The `bearclf` command as a user runs it: `--help` everywhere, one-line usage errors, exit codes scripts can trust."""
import json, shutil, subprocess, sys
from pathlib import Path
import pytest

COMMANDS = [[], ['gather'], ['train'], ['clean'], ['clean', 'review'], ['clean', 'apply'], ['clean', 'undo'],
            ['predict'], ['app'], ['docs']]

def bearclf(*args, cwd=None):
    "Run the installed `bearclf` command"
    return subprocess.run([shutil.which('bearclf'), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60)

@pytest.mark.parametrize('command', COMMANDS, ids=lambda c: ' '.join(c) or 'bearclf')
def test_help(command):
    done = bearclf(*command, '--help')
    assert done.returncode == 0 and done.stderr == ''
    assert done.stdout.startswith(f"usage: {' '.join(['bearclf', *command])} ")
    if command == []:
        for name in ('gather', 'train', 'clean', 'predict', 'app', 'docs'): assert f'    {name} ' in done.stdout
    if command == ['train']: assert '--epochs INT' in done.stdout and '--no-augment' in done.stdout  # from `Recipe`

@pytest.mark.parametrize('args, error', [
    ([], 'bearclf: error: the following arguments are required: COMMAND (see bearclf --help)'),
    (['bake'], "bearclf: error: argument COMMAND: invalid choice: 'bake'"),
    (['train', '--data', 'x'], 'bearclf train: error: the following arguments are required: --out (see bearclf train --help)'),
    (['train', '--data', 'x', '--out', 'y', '--epochs', 'many'], "bearclf train: error: argument --epochs: invalid int value: 'many'"),
    (['predict'], 'bearclf predict: error: the following arguments are required: PHOTO'),
    (['app', '--port', 'http'], "bearclf app: error: argument --port: invalid int value: 'http'"),
    (['clean', 'apply', 'decisions.csv'], 'bearclf clean apply: error: the following arguments are required: --data'),
])
def test_usage_errors_are_one_line_and_exit_2(args, error):
    done = bearclf(*args)
    assert done.returncode == 2 and done.stdout == ''
    assert done.stderr.count('\n') == 1 and done.stderr.startswith(error), done.stderr

@pytest.mark.time_limit(90)  # five commands that each load PyTorch
def test_bad_data_is_a_one_line_error_and_exit_1(tmp_path):
    for args in (['train', '--data', tmp_path, '--out', tmp_path/'model'], ['predict', '--model', tmp_path, 'photo.jpg'],
                 ['app', '--model', tmp_path], ['clean', 'undo', '--data', tmp_path/'missing']):
        done = bearclf(*args)
        assert done.returncode == 1 and done.stderr.count('\n') == 1, (args, done.stderr)
        assert done.stderr.startswith(f'bearclf {args[0]}: error: '), done.stderr
    done = bearclf('docs', cwd=tmp_path)
    assert (done.returncode, done.stderr) == (1, 'bearclf docs: error: bearclf docs builds the site of a clone of the bearclf repository: no settings.ini here or above\n')

def test_help_is_fast():
    "`bearclf --help` and `bearclf app --help` must not load PyTorch (it takes seconds)"
    code = "import sys; from bearclf.cli import parser; parser('app'); print('torch' in sys.modules, 'fastai' in sys.modules)"
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True).stdout.split() == ['False', 'False']
