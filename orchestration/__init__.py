"""Automation: workflows and journeys from specs, run by ``herald run`` on a schedule or a trigger.

spec.py        workflow and journey files → checked values (errors name the file and the activity)
cron.py        five-field cron in a time zone
scheduler.py   what is due, the scheduler lock, the graph walk, exit codes
activities.py  one executor per activity type, over the library (import, build, audiences, prepare, send, …)
journeys.py    each profile's position as a query; messages with ids derived from (journey, step, profile)
breakers.py    source freshness, audience jump, recorded overrides
journal.py     per-run journals and logs as plain files (run state, history for pages)
errors.py      AutomationError → WorkflowSpecError / SchedulerBusy / BreakerTripped
"""
