"""The commands, one module each: options, prompts, progress and printing.

A command parses what it was given, calls the stage that owns the work
(`run` for plan and apply, `load` for validate, `catalog` for render, ...)
and prints what came back. Each imports the stages it calls inside its
body, so that starting listsync (`--version`, `--help`, `validate`) loads
only what it uses. `common` holds what several commands share.
"""
