__version__ = "0.0.1"

import warnings
# fastai 2.8.7 (the last release nbdev 2 can live with) decorates a layer with `torch.jit.script`, which
# torch 2.10+ deprecates with a FutureWarning at import; it is harmless and would clutter every lesson.
warnings.filterwarnings('ignore', message=r'`torch\.jit\.script` is deprecated', category=FutureWarning)
