{#-
    engagement_measures(): the counts every engagement roll-up shares, as aggregates over rows of
    message_outcomes (seed messages already left out). Each count is of messages, so a message opened ten
    times is one unique open.

    engagement_rates(): the rates over those counts, each with its denominator named in its description:
    null (never a division error) when the denominator is 0.
-#}
{% macro engagement_measures() -%}
        cast(count(*) as {{ dbt.type_bigint() }}) as message_count,
        cast(sum(case when is_sent then 1 else 0 end) as {{ dbt.type_bigint() }}) as sent_count,
        cast(sum(case when is_delivered then 1 else 0 end) as {{ dbt.type_bigint() }}) as delivered_count,
        cast(sum(case when is_opened then 1 else 0 end) as {{ dbt.type_bigint() }}) as unique_open_count,
        cast(sum(open_count) as {{ dbt.type_bigint() }}) as open_count,
        cast(sum(machine_open_count) as {{ dbt.type_bigint() }}) as machine_open_count,
        cast(sum(case when is_clicked then 1 else 0 end) as {{ dbt.type_bigint() }}) as unique_click_count,
        cast(sum(click_count) as {{ dbt.type_bigint() }}) as click_count,
        cast(sum(case when is_bounced then 1 else 0 end) as {{ dbt.type_bigint() }}) as bounced_count,
        cast(sum(case when is_hard_bounced then 1 else 0 end) as {{ dbt.type_bigint() }}) as hard_bounce_count,
        cast(sum(case when is_soft_bounced then 1 else 0 end) as {{ dbt.type_bigint() }}) as soft_bounce_count,
        cast(sum(case when is_blocked then 1 else 0 end) as {{ dbt.type_bigint() }}) as blocked_count,
        cast(sum(case when is_deferred then 1 else 0 end) as {{ dbt.type_bigint() }}) as deferred_count,
        cast(sum(case when is_dropped then 1 else 0 end) as {{ dbt.type_bigint() }}) as dropped_count,
        cast(sum(case when is_failed then 1 else 0 end) as {{ dbt.type_bigint() }}) as failed_count,
        cast(sum(case when is_unsubscribed then 1 else 0 end) as {{ dbt.type_bigint() }}) as unsubscribe_count,
        cast(sum(case when is_spam_reported then 1 else 0 end) as {{ dbt.type_bigint() }}) as complaint_count
{%- endmacro %}

{% macro safe_rate(numerator, denominator) -%}
    cast(
        case when ({{ denominator }}) > 0 then cast(({{ numerator }}) as {{ type_double() }}) / ({{ denominator }}) end
        as {{ type_double() }}
    )
{%- endmacro %}

{% macro engagement_rates() -%}
        {{ safe_rate('delivered_count', 'sent_count') }} as delivery_rate,
        {{ safe_rate('unique_open_count', 'delivered_count') }} as open_rate,
        {{ safe_rate('unique_click_count', 'delivered_count') }} as click_rate,
        {{ safe_rate('unique_click_count', 'unique_open_count') }} as click_to_open_rate,
        {{ safe_rate('bounced_count', 'sent_count') }} as bounce_rate,
        {{ safe_rate('hard_bounce_count', 'sent_count') }} as hard_bounce_rate,
        {{ safe_rate('unsubscribe_count', 'delivered_count') }} as unsubscribe_rate,
        {{ safe_rate('complaint_count', 'delivered_count') }} as complaint_rate
{%- endmacro %}

{#-
    normal_two_sided_p_value(z): 2 × (1 − Φ(|z|)) for a standard normal z, by the Zelen & Severo polynomial
    (Abramowitz & Stegun 26.2.17, absolute error below 7.5e-8): exp and arithmetic only, so every engine
    computes it the same. Null for a null z.
-#}
{% macro normal_two_sided_p_value(z) -%}
    {%- set t = '(1.0 / (1.0 + 0.2316419 * abs(' ~ z ~ ')))' -%}
    (2.0 * 0.3989422804014327 * exp(-0.5 * ({{ z }}) * ({{ z }}))
        * ({{ t }} * (0.319381530 + {{ t }} * (-0.356563782 + {{ t }} * (1.781477937
            + {{ t }} * (-1.821255978 + {{ t }} * 1.330274429))))))
{%- endmacro %}
