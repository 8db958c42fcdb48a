{#-
    The conversions of a delivery run, as delivery_control_lift and delivery_ab_results count them: a recipient
    converts with a completed order within var conversion_window_days after the run started sending (its first
    sent message; the preparation time if nothing was sent yet). Every group of a run has the same window, so a
    control group is measured exactly as its target.

    conversion_windows(): one row per run of delivery_metrics: run_id, delivery_id, campaign_id, control_count,
    first_sent_at and the run's window_start_at and window_end_at.

    is_conversion(orders, windows): whether a row of `orders` (the orders mart) converts in the window of a row
    of `windows` (conversion_windows); the caller joins the two on the recipient's profile.
-#}
{% macro conversion_windows() -%}
    {%- set start_at = 'coalesce(metrics.first_sent_at, metrics.prepared_at)' -%}
    select
        metrics.run_id,
        metrics.delivery_id,
        metrics.campaign_id,
        metrics.control_count,
        metrics.first_sent_at,
        {{ start_at }} as window_start_at,
        {{ dbt.dateadd('day', var('conversion_window_days') | int, start_at) }} as window_end_at

    from {{ ref('delivery_metrics') }} as metrics
{%- endmacro %}

{% macro is_conversion(orders, windows) -%}
    {{ orders }}.is_completed
        and {{ orders }}.ordered_at > {{ windows }}.window_start_at
        and {{ orders }}.ordered_at <= {{ windows }}.window_end_at
{%- endmacro %}
