"""``python -m fastllm_litellm proxy ...``: the ``fastllm-litellm`` console script."""

import sys

from fastllm_litellm._cli import main

if __name__ == "__main__":
    sys.exit(main())
