-- For the run being prepared: send list + control + exclusions = the audience's size, and the audience size
-- equals the member count its latest build recorded from the audience model (a triggered run: the members of
-- its build who were not at the build before).
-- depends_on: {{ ref('audience_memberships') }}, {{ ref('audience_builds') }}
{%- set run = delivery_run() %}

{%- if run is none %}

select run_id from {{ ref('delivery_runs') }} where 1 = 0

{%- else %}

{%- if run.entered %}
{%- set members_sql %}
    select count(*) as n
    from {{ ref('audience_memberships') }} as entered
    where entered.audience_name = {{ sql_text(run.audience) }}
        and entered.build_id = {{ sql_text(run.entered.build_id) }}
        and entered.profile_id not in (
            select before.profile_id
            from {{ ref('audience_memberships') }} as before
            where before.audience_name = {{ sql_text(run.audience) }}
                and before.build_id = {{ sql_text(run.entered.baseline_id) }}
        )
{%- endset %}
{%- else %}
{%- set members_sql %}
    select member_count as n
    from {{ ref('audience_builds') }}
    where audience_name = {{ sql_text(run.audience) }} and build_id = {{ latest_audience_build(run.audience) }}
{%- endset %}
{%- endif %}

select runs.run_id, runs.audience_size, runs.send_count, runs.control_count, runs.excluded_count, members.n
from {{ ref('delivery_runs') }} as runs
cross join ({{ members_sql }}) as members
where runs.run_id = {{ sql_text(run.run_id) }}
    and (
        runs.send_count + runs.control_count + runs.excluded_count <> runs.audience_size
        or runs.audience_size <> members.n
    )

{%- endif %}
