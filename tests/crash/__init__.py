"""The crash test: the real ``drsched run`` SIGKILLed under faults (harness in
``tests/support/crash``)."""
