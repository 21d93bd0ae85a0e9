"""Lead-to-cash specifics: what the generic core does not know.

Which policy decides a deal, how an approver's authority is checked against it
(B1–B5), and which outputs label the service's metrics.  Only the shells (the
API, the CLI, the simulator) import this package; the core never does.
"""
