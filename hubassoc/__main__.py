"""``python -m hubassoc``: the same as the ``hubassoc`` command."""

import sys

from hubassoc._cli import main

sys.exit(main())
