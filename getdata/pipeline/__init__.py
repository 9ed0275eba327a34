"""One dataset's story (``run``): collect the bytes, compare with what was recorded (``state``,
``check``, ``drift``) and log them (``log``, ``reference``)."""
