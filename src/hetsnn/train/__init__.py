"""The run machinery: the static spec, compiled programs, the run loop, the benchmark."""
