"""Herald's delivery side: sender jobs that turn the frozen send lists dbt materializes into messages.

    job.py          herald send: checks a run, loads its send list, sends it as a batch, sums it up
    exactly_once.py claim → call → settle, the protocol every ledgered message goes through (runs, journeys,
                    transactional messages, confirmation emails)
    batch.py        a batch over its run's shards: windows, pacing, several calls in flight (workers.py)
    to_profiles.py  one template to profiles named by id (a journey's step), as a batch
    options.py      SendOptions, Progress; pacing.py: the send window and the hourly cap
    ledger.py       the append-only send ledger, shard locks, pause / resume / cancel
    dispatch.py     one provider call and every rule about retrying it
    governor.py     one rate governor per send: 429s and X-RateLimit-* headers pace every worker, none freezes
    compose.py      recipient → message, through the one renderer (herald.content): every message Herald sends
    suppression.py  consent and quarantine re-checked at claim time, from the warehouse and the landing zone
    links.py        signed unsubscribe and preference links
    http.py         the keep-alive transport that tells "never sent" from "may have been accepted"
    providers/      SendGrid (email), Twilio (SMS), FCM (push), the inbox (in-app), print extraction (direct mail)

Senders read the published warehouse and the landing zone, write only their ledger and stores, and never open a
DuckDB file for writing. See docs/senders.md.
"""
