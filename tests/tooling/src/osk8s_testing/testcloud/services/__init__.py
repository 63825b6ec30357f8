"""One module per service of the test cloud: its config, its setup steps, its processes.

Each module exports ``SERVICE`` (a ``base.Service``); ``catalog.py`` lists them in start order.
"""
