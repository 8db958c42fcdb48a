{#-
    Each group's share of the audience is within tolerance of the spec's share: three standard errors of a
    binomial proportion at the audience's size, plus one member, so small audiences do not fail by chance.
    `shares` maps group name to expected share (0..1). An empty audience passes.
-#}
{% test audience_group_shares(model, column_name, shares) %}

with

counts as (

    select {{ column_name }} as audience_group, count(*) as members
    from {{ model }}
    group by {{ column_name }}

),

total as (

    select sum(members) as members from counts

),

expected as (

    {% for group, share in shares.items() %}
    select cast('{{ group }}' as {{ dbt.type_string() }}) as audience_group, {{ share }} as share
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

compared as (

    select
        expected.audience_group,
        expected.share,
        coalesce(counts.members, 0) * 1.0 / total.members as actual_share,
        3 * sqrt(expected.share * (1 - expected.share) / total.members) + 1.0 / total.members as tolerance
    from expected
    cross join total
    left join counts
        on counts.audience_group = expected.audience_group
    where total.members > 0

)

select *
from compared
where abs(actual_share - share) > tolerance

{% endtest %}
