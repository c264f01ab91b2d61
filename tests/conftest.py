import os

os.environ.setdefault("RNNPROOF_BACKEND", "numpy")
