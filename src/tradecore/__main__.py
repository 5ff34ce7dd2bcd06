import sys

from tradecore.cli import main

sys.exit(main())
