"""The engine process life: runner, command line, log file, external feeds."""
