"""Errors of workflows and the scheduler.

HeraldError
└── AutomationError         a workflow cannot be loaded, scheduled or run
    ├── WorkflowSpecError       a workflow file is invalid (names the file, the activity and why)
    ├── SchedulerBusy           another `herald run` holds the scheduler lock
    └── BreakerTripped          a circuit breaker stops a delivery (names the delivery and why)
"""

from __future__ import annotations

from herald.errors import HeraldError


class AutomationError(HeraldError):
    """A workflow cannot be loaded, scheduled or run."""


class WorkflowSpecError(AutomationError):
    """A workflow file is invalid; the message names the file, the activity and why."""

    exit_code = 2


class SchedulerBusy(AutomationError):
    """Another ``herald run`` holds the scheduler lock; this one did nothing."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class BreakerTripped(AutomationError):
    """A circuit breaker stops a delivery; the message names the delivery, the breaker and why."""

    exit_code = 3
