"""The migration function's own code, which is none: its handler, ``stateway.migrate.handler``,
is in the Stateway layer beside the code it creates indexes for. A function needs a folder of
its own to deploy, and this is it."""
