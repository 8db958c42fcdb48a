-- One row per CRM contact (latest version) whose email address Herald's email policy refuses: the contact stays
-- (without an email), and this table is where the Profiles page's data-quality view shows it, so no address is
-- dropped silently.

with

contacts as (

    select * from {{ ref('int_contacts_normalized') }}

),

final as (

    select
        ---------- ids
        external_key,

        ---------- strings
        invalid_email as email_as_typed,
        email_problem,
        source_file,

        ---------- numerics
        source_line_number,

        ---------- timestamps
        loaded_at

    from contacts
    where email_problem is not null

)

select * from final
