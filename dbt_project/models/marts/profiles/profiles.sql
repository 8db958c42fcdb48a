-- One row per profile (surviving identity after merging contacts that share an email): who they are,
-- what they bought, how they engage, and which channels can reach them now.

with

profiles as (

    select * from {{ ref('int_contacts_merged_to_profiles') }}

),

purchases as (

    select * from {{ ref('int_orders_aggregated_to_profiles') }}

),

rfm as (

    select * from {{ ref('int_customers_scored_by_rfm') }}

),

engagement as (

    select * from {{ ref('int_engagement_aggregated_to_profiles') }}

),

reachability as (

    select * from {{ ref('int_profiles_evaluated_for_reachability') }}

),

final as (

    select
        ---------- ids
        cast(profiles.profile_id as {{ dbt.type_string() }}) as profile_id,
        cast(profiles.external_key as {{ dbt.type_string() }}) as external_key,

        ---------- strings
        cast(profiles.first_name as {{ dbt.type_string() }}) as first_name,
        cast(profiles.last_name as {{ dbt.type_string() }}) as last_name,
        cast(profiles.full_name as {{ dbt.type_string() }}) as full_name,
        cast(profiles.email as {{ dbt.type_string() }}) as email,
        cast(profiles.email_domain as {{ dbt.type_string() }}) as email_domain,
        cast(profiles.phone as {{ dbt.type_string() }}) as phone,
        cast(profiles.address_line1 as {{ dbt.type_string() }}) as address_line1,
        cast(profiles.address_line2 as {{ dbt.type_string() }}) as address_line2,
        cast(profiles.postal_code as {{ dbt.type_string() }}) as postal_code,
        cast(profiles.city as {{ dbt.type_string() }}) as city,
        cast(profiles.country_code as {{ dbt.type_string() }}) as country_code,
        cast(profiles.language_code as {{ dbt.type_string() }}) as language_code,
        cast(profiles.locale as {{ dbt.type_string() }}) as locale,
        cast(profiles.time_zone as {{ dbt.type_string() }}) as time_zone,
        cast(profiles.attributes as {{ dbt.type_string() }}) as attributes,
        cast(rfm.rfm_segment as {{ dbt.type_string() }}) as rfm_segment,
        cast(reachability.email_quarantine_status as {{ dbt.type_string() }}) as email_quarantine_status,
        cast(reachability.email_quarantine_reason as {{ dbt.type_string() }}) as email_quarantine_reason,

        ---------- numerics
        cast(profiles.merged_contact_count as {{ dbt.type_bigint() }}) as merged_contact_count,
        cast(coalesce(purchases.order_count, 0) as {{ dbt.type_bigint() }}) as order_count,
        cast(coalesce(purchases.lifetime_value, 0) as {{ type_double() }}) as lifetime_value,
        cast(purchases.average_order_value as {{ type_double() }}) as average_order_value,
        cast(rfm.recency_score as {{ dbt.type_bigint() }}) as recency_score,
        cast(rfm.frequency_score as {{ dbt.type_bigint() }}) as frequency_score,
        cast(rfm.monetary_score as {{ dbt.type_bigint() }}) as monetary_score,
        cast(coalesce(engagement.messages_received_recent, 0) as {{ dbt.type_bigint() }}) as messages_received_recent,
        cast(coalesce(engagement.opens_recent, 0) as {{ dbt.type_bigint() }}) as opens_recent,
        cast(coalesce(engagement.clicks_recent, 0) as {{ dbt.type_bigint() }}) as clicks_recent,
        cast(coalesce(engagement.active_days_recent, 0) as {{ dbt.type_bigint() }}) as active_days_recent,
        cast(coalesce(engagement.opens_last_30_days, 0) as {{ dbt.type_bigint() }}) as opens_last_30_days,
        cast(coalesce(engagement.clicks_last_30_days, 0) as {{ dbt.type_bigint() }}) as clicks_last_30_days,
        cast(coalesce(engagement.opens_last_90_days, 0) as {{ dbt.type_bigint() }}) as opens_last_90_days,
        cast(coalesce(engagement.clicks_last_90_days, 0) as {{ dbt.type_bigint() }}) as clicks_last_90_days,
        cast(coalesce(engagement.engagement_score, 0) as {{ dbt.type_bigint() }}) as engagement_score,
        cast(coalesce(engagement.engagement_tier, 'none') as {{ dbt.type_string() }}) as engagement_tier,

        ---------- booleans
        cast(profiles.is_email_valid as {{ dbt.type_boolean() }}) as is_email_valid,
        cast(profiles.is_phone_valid as {{ dbt.type_boolean() }}) as is_phone_valid,
        cast(reachability.is_email_reachable as {{ dbt.type_boolean() }}) as is_email_reachable,
        cast(reachability.is_sms_reachable as {{ dbt.type_boolean() }}) as is_sms_reachable,
        cast(reachability.is_push_reachable as {{ dbt.type_boolean() }}) as is_push_reachable,
        cast(reachability.is_in_app_reachable as {{ dbt.type_boolean() }}) as is_in_app_reachable,
        cast(reachability.is_direct_mail_reachable as {{ dbt.type_boolean() }}) as is_direct_mail_reachable,

        ---------- dates
        cast(profiles.birth_date as date) as birth_date,

        ---------- timestamps
        cast(purchases.first_order_at as {{ dbt.type_timestamp() }}) as first_order_at,
        cast(purchases.last_order_at as {{ dbt.type_timestamp() }}) as last_order_at,
        cast(purchases.last_order_at as {{ dbt.type_timestamp() }}) as last_purchase_at,
        cast(engagement.last_open_at as {{ dbt.type_timestamp() }}) as last_open_at,
        cast(engagement.last_click_at as {{ dbt.type_timestamp() }}) as last_click_at,
        cast(engagement.last_seen_at as {{ dbt.type_timestamp() }}) as last_seen_at,
        cast(profiles.created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(profiles.updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from profiles
    left join purchases
        on profiles.profile_id = purchases.profile_id
    left join rfm
        on profiles.profile_id = rfm.profile_id
    left join engagement
        on profiles.profile_id = engagement.profile_id
    left join reachability
        on profiles.profile_id = reachability.profile_id

)

select * from final
