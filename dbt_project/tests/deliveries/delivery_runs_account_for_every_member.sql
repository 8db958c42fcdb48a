-- For the run being prepared: send list + control + exclusions = the audience's size, and the audience size
-- equals the audience model's members.
{%- set run = fromjson(env_var('HERALD_DELIVERY_RUN', 'null')) %}

{%- if run is none %}

select run_id from {{ ref('delivery_runs') }} where 1 = 0

{%- else %}

select runs.run_id, runs.audience_size, runs.send_count, runs.control_count, runs.excluded_count, members.n
from {{ ref('delivery_runs') }} as runs
cross join (select count(*) as n from {{ ref('aud_' ~ run.audience) }}) as members
where runs.run_id = {{ sql_text(run.run_id) }}
    and (
        runs.send_count + runs.control_count + runs.excluded_count <> runs.audience_size
        or runs.audience_size <> members.n
    )

{%- endif %}
